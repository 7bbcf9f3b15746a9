"""Direct illumination from point lights, split into a visibility pass and a differentiated shading pass.

For each batch of samples:

1. **visibility** (never differentiated): trace each sample's camera ray, record the primitive it hits,
   and trace a shadow ray to every light, recording a bit per visible light;
2. **shading** (differentiated by Taichi): regenerate the same camera ray, recompute the hit point and
   normal from the record, and add ``albedo / pi * I * max(0, n.l) / r^2`` for each visible light,
   divided by spp, to the pixel.

The forward pass runs both in one kernel (the visibility kernel shades with the same ``radiance``
function once it knows what is visible); the backward pass runs the shading kernel's gradient, which
Taichi generates, over the recorded batch.

Records are kept for at most ``max_batch_samples`` samples at a time, so memory grows with the pixels,
not with pixels x spp. The backward pass walks the batches in reverse; every batch but the last has its
visibility traced again (the records were overwritten), which costs one visibility pass per extra batch.

A new integrator overrides :meth:`Integrator.radiance`, the per-sample shading, and keeps the rest.
"""

import math

import numpy as np
import taichi as ti

from .camera import make_camera_ray
from ..device.scene import DeviceScene
from .intersect import make_intersector
from .surface import make_surface

DEFAULT_MAX_BATCH_SAMPLES = 1 << 23  # 8M samples: 64 MB of records


@ti.func
def detach(v):
    """The vec3 ``v`` with no derivative: a round trip through its bits, which autodiff does not follow."""
    return ti.Vector([ti.bit_cast(ti.bit_cast(v[i], ti.i32), ti.f32) for i in ti.static(range(3))])


class Integrator:
    """Renders a :class:`DeviceScene` into ``image`` and propagates ``image.grad`` back to the pool.

    Parameters
    ----------
    dev : DeviceScene
        The scene's fields.
    spp : int, optional
        Samples per pixel; defaults to the scene film's.
    max_batch_samples : int
        Upper bound on samples recorded at once (memory: 8 bytes each).

    Attributes
    ----------
    image : ti.Vector.field(3, f32), shape (height, width), needs_grad
        Linear RGB radiance; row 0 is the top of the picture, as in the image files.
    """

    def __init__(self, dev: DeviceScene, spp: int | None = None, max_batch_samples: int = DEFAULT_MAX_BATCH_SAMPLES):
        film = dev.scene.film
        self.dev = dev
        self.width, self.height = film.width, film.height
        self.spp = int(spp or film.spp)
        if self.spp < 1:
            raise ValueError("spp must be at least 1")
        pixels = self.width * self.height
        self.batch = max(1, min(self.spp, max_batch_samples // pixels))
        self.n_batches = math.ceil(self.spp / self.batch)

        shape = (self.height, self.width)
        self.image = ti.Vector.field(3, ti.f32, shape=shape, needs_grad=True)
        self.hit = ti.field(ti.i32, shape=shape + (self.batch,))
        self.visible = ti.field(ti.i32, shape=shape + (self.batch,))

        self.camera_ray = make_camera_ray(dev, self.width, self.height, self.spp)
        self.nearest, self.occluded = make_intersector(dev)
        self.surface = make_surface(dev)
        self._build_kernels()

    # =============================================================================================
    # Per-sample shading: what a new integrator overrides
    # =============================================================================================

    def radiance(self):
        """Return a ``ti.func`` ``(p, n, albedo_offset, visible_mask) -> vec3``: the radiance leaving
        ``p`` towards the camera. It must be straight-line code (static loops only) so that it can be
        differentiated without an adstack."""
        dev = self.dev
        pos, inten, alb = dev.source("light_position"), dev.source("light_intensity"), dev.source("albedo")
        pos_off = dev.layout.light_position
        int_off = dev.layout.light_intensity

        @ti.func
        def radiance(p, n, a, mask):
            albedo = ti.Vector([alb[a], alb[a + 1], alb[a + 2]])
            total = ti.Vector([0.0, 0.0, 0.0])
            for li in ti.static(range(dev.n_lights)):
                lp = ti.Vector([pos[pos_off[li]], pos[pos_off[li] + 1], pos[pos_off[li] + 2]])
                intensity = ti.Vector([inten[int_off[li]], inten[int_off[li] + 1], inten[int_off[li] + 2]])
                to_light = lp - p
                r2 = to_light.dot(to_light)
                cos = ti.max(n.dot(to_light) / ti.sqrt(r2), 0.0)
                seen = ti.cast((mask >> li) & 1, ti.f32)
                total += seen * cos / r2 * intensity
            return albedo * (1.0 / ti.math.pi) * total

        return radiance

    # =============================================================================================
    # Kernels (compiled once per scene shape)
    # =============================================================================================

    def _build_kernels(self):
        dev = self.dev
        camera_ray, nearest, occluded, surface = self.camera_ray, self.nearest, self.occluded, self.surface
        radiance = self.radiance()
        hit, visible, image = self.hit, self.visible, self.image
        pool, eps, n_lights = dev.pool, dev.epsilon, dev.n_lights
        pos_off = dev.layout.light_position
        spp = self.spp
        # With neither the camera nor the geometry free, the hit point and normal are constants to the
        # gradient: cut them out of the differentiated graph so Taichi does not propagate adjoints
        # through the ray and the intersection (a quarter of the backward pass).
        geometry_constant = not ({"camera", "geometry"} & dev.free_groups)

        @ti.kernel
        def visibility(seed: ti.u32, first_sample: ti.i32, shade_too: ti.template()):
            for y, x, b in hit:
                code, mask = -1, 0
                if first_sample + b < spp:
                    o, d = camera_ray(x, y, first_sample + b, seed)
                    t, code = nearest(o, d)
                    if code >= 0:
                        p, n, a = surface(o, d, code)
                        for li in ti.static(range(n_lights)):
                            k = pos_off[li]
                            to_light = ti.Vector([pool[k], pool[k + 1], pool[k + 2]]) - p
                            dist = to_light.norm()
                            if n.dot(to_light) > 0.0 and not occluded(p, to_light / dist, dist - eps, code):
                                mask |= 1 << li
                        if ti.static(shade_too):  # the forward pass: shading fused in, as `shade` does it
                            image[y, x] += radiance(p, n, a, mask) * (1.0 / spp)
                hit[y, x, b] = code
                visible[y, x, b] = mask

        @ti.kernel
        def shade(seed: ti.u32, first_sample: ti.i32):
            """The differentiated pass (only its .grad runs; the forward pass fuses it into visibility)."""
            for y, x, b in hit:
                code = hit[y, x, b]
                if code >= 0 and first_sample + b < spp:
                    o, d = camera_ray(x, y, first_sample + b, seed)
                    p, n, a = surface(o, d, code)
                    if ti.static(geometry_constant):
                        p, n = detach(p), detach(n)
                    image[y, x] += radiance(p, n, a, visible[y, x, b]) * (1.0 / spp)

        self._visibility = visibility
        self._shade = shade

    # =============================================================================================
    # Forward and backward
    # =============================================================================================

    def forward(self, seed: int) -> None:
        """Render into ``image`` with the sample seed ``seed`` (overwrites ``image``)."""
        self.image.fill(0.0)
        seed = int(seed) & 0xFFFFFFFF
        for b in range(self.n_batches):
            self._visibility(seed, b * self.batch, True)

    def backward(self, seed: int) -> None:
        """Accumulate ``d loss / d pool`` into ``pool.grad`` from ``image.grad``.

        Call after :meth:`forward` with the same seed and unchanged parameters. ``pool.grad`` is not
        cleared here (see :meth:`zero_grad`).
        """
        seed = int(seed) & 0xFFFFFFFF
        for b in reversed(range(self.n_batches)):
            if b != self.n_batches - 1:
                self._visibility(seed, b * self.batch, False)  # the records hold the last batch only
            self._shade.grad(seed, b * self.batch)

    def zero_grad(self) -> None:
        self.dev.pool.grad.fill(0.0)
        self.image.grad.fill(0.0)

    def to_numpy(self) -> np.ndarray:
        """The current image, (height, width, 3) float32 linear RGB."""
        return self.image.to_numpy()
