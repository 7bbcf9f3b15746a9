"""Direct illumination, split into a visibility pass and a differentiated shading pass.

Every view (camera) of the scene is rendered at once into one image field, ``(view, row, column)``. For
each batch of samples:

1. **visibility** (never differentiated): trace each sample's camera ray, record the primitive it hits,
   and trace a shadow ray to every light, recording a bit per visible light
   (:mod:`raydiff.device.hitrecord`);
2. **shading** (differentiated by Taichi): regenerate the same camera ray, recompute the hit point and
   normal from the record, and add ``bsdf * irradiance`` for each visible light, divided by spp, to the
   pixel. Lights (:mod:`raydiff.kernels.lights`) and materials (:mod:`raydiff.kernels.materials`) are
   pieces; the light loop is unrolled (``ti.static``), so the differentiated kernel carries no locals
   through a loop and needs no adstack.

Scenes whose meshes move (a free pose) have their triangles placed and the BVH refit before every
visibility pass (:mod:`raydiff.kernels.placement`).

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

from ..device.hitrecord import MISS, light_seen
from ..device.scene import DeviceScene
from .camera import make_camera
from .intersect import make_intersector
from .lights import make_lights
from .materials import make_diffuse
from .placement import make_placement
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
    image : ti.Vector.field(3, f32), shape (views, height, width), needs_grad
        Linear RGB radiance of every view; row 0 is the top of the picture, as in the image files.
    n_views : int
        The number of views (the scene's cameras, in order).
    """

    def __init__(self, dev: DeviceScene, spp: int | None = None, max_batch_samples: int = DEFAULT_MAX_BATCH_SAMPLES):
        film = dev.scene.film
        self.dev = dev
        self.width, self.height = film.width, film.height
        self.spp = int(spp or film.spp)
        if self.spp < 1:
            raise ValueError("spp must be at least 1")
        self.n_views = dev.n_views
        pixels = self.n_views * self.width * self.height
        self.batch = max(1, min(self.spp, max_batch_samples // pixels))
        self.n_batches = math.ceil(self.spp / self.batch)

        shape = (self.n_views, self.height, self.width)
        self.image = ti.Vector.field(3, ti.f32, shape=shape, needs_grad=True)
        self.hit = ti.field(ti.i32, shape=shape + (self.batch,))  # the hit record of every sample
        self.visible = ti.field(ti.i32, shape=shape + (self.batch,))  # bit l: light l seen from the hit

        self.camera = make_camera(dev, self.width, self.height, self.spp)
        self.camera_ray = self.camera.camera_ray
        self.nearest, self.occluded = make_intersector(dev)
        self.surface = make_surface(dev)
        self.lights = make_lights(dev)
        self.bsdf = make_diffuse(dev)
        self.place_meshes = make_placement(dev)
        self._build_kernels()

    # =============================================================================================
    # Per-sample shading: what a new integrator overrides
    # =============================================================================================

    def radiance(self):
        """Return a ``ti.func`` ``(p, n, wo, albedo_offset, visible_mask) -> vec3``: the radiance leaving
        ``p`` towards ``wo`` (the camera). It must be straight-line code (static loops only) so that it can
        be differentiated without an adstack."""
        lights, bsdf = self.lights, self.bsdf

        @ti.func
        def radiance(p, n, wo, a, mask):
            total = ti.Vector([0.0, 0.0, 0.0])
            for li in ti.static(range(len(lights))):
                wi, _ = lights[li].towards(p)
                total += light_seen(mask, li) * bsdf(a, p, n, wi, wo) * lights[li].irradiance(p, n)
            return total

        return radiance

    # =============================================================================================
    # Kernels (compiled once per scene shape)
    # =============================================================================================

    def _build_kernels(self):
        dev = self.dev
        camera_ray, nearest, occluded, surface = self.camera_ray, self.nearest, self.occluded, self.surface
        radiance, lights = self.radiance(), self.lights
        hit, visible, image = self.hit, self.visible, self.image
        eps = dev.epsilon
        spp = self.spp
        # With neither a camera nor the geometry free, the hit point and normal are constants to the
        # gradient: cut them out of the differentiated graph so Taichi does not propagate adjoints
        # through the ray and the intersection (a quarter of the backward pass).
        geometry_constant = not ({"camera", "geometry"} & dev.free_groups)

        # ----------------------------------------------------------------------------------------------
        # Visibility: what a ray hits, and which lights that point sees
        # ----------------------------------------------------------------------------------------------
        @ti.func
        def trace(o, d):
            """``(code, mask, p, n, albedo_offset)`` of the ray (o, d): the hit record, the visibility mask
            and the hit's geometry (meaningless for a miss)."""
            t, code = nearest(o, d)
            mask = 0
            p, n, a = o, d, 0
            if code != MISS:
                p, n, a = surface(o, d, code)
                for li in ti.static(range(len(lights))):
                    wi, dist = lights[li].towards(p)
                    if n.dot(wi) > 0.0 and not occluded(p, wi, dist - eps, code):
                        mask |= 1 << li
            return code, mask, p, n, a

        @ti.func
        def radiance_along(o, d):
            """The radiance arriving at ``o`` along ``d`` (not differentiated: visibility included)."""
            code, mask, p, n, a = trace(o, d)
            value = ti.Vector([0.0, 0.0, 0.0])
            if code != MISS:
                value = radiance(p, n, -d, a, mask)
            return value

        self.trace, self.radiance_along = trace, radiance_along

        @ti.kernel
        def visibility(seed: ti.u32, first_sample: ti.i32, shade_too: ti.template()):
            for v, y, x, b in hit:
                code, mask = MISS, 0
                if first_sample + b < spp:
                    o, d = camera_ray(v, x, y, first_sample + b, seed)
                    code, mask, p, n, a = trace(o, d)
                    if ti.static(shade_too):  # the forward pass: shading fused in, as `shade` does it
                        if code != MISS:
                            image[v, y, x] += radiance(p, n, -d, a, mask) * (1.0 / spp)
                hit[v, y, x, b] = code
                visible[v, y, x, b] = mask

        # ----------------------------------------------------------------------------------------------
        # Shading: the differentiated pass (only its .grad runs; the forward pass fuses it into visibility)
        # ----------------------------------------------------------------------------------------------
        @ti.kernel
        def shade(seed: ti.u32, first_sample: ti.i32):
            for v, y, x, b in hit:
                code = hit[v, y, x, b]
                if code != MISS and first_sample + b < spp:
                    o, d = camera_ray(v, x, y, first_sample + b, seed)
                    p, n, a = surface(o, d, code)
                    if ti.static(geometry_constant):
                        p, n = detach(p), detach(n)
                    image[v, y, x] += radiance(p, n, -d, a, visible[v, y, x, b]) * (1.0 / spp)

        self._visibility = visibility
        self._shade = shade

    # =============================================================================================
    # Forward and backward
    # =============================================================================================

    def forward(self, seed: int) -> None:
        """Render into ``image`` with the sample seed ``seed`` (overwrites ``image``)."""
        self.image.fill(0.0)
        seed = int(seed) & 0xFFFFFFFF
        if self.place_meshes is not None:
            self.place_meshes()
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

    def to_numpy(self, view: int = 0) -> np.ndarray:
        """The current image of one view, (height, width, 3) float32 linear RGB."""
        return self.views_numpy()[view]

    def views_numpy(self) -> list[np.ndarray]:
        """The current image of every view, in the scene's camera order (one device read)."""
        return list(self.image.to_numpy())
