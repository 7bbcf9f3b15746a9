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
   through a loop and needs no adstack. While the hit geometry is a constant to the gradient (neither a
   camera nor the geometry free, no mirror bounces), the gradient's visibility pass keeps each hit's
   shading inputs instead (:class:`ShadingRecords`) and the shading kernel differentiates ``radiance``
   alone from them. The kernels that are not differentiated (the forward pass's fused shading, the
   boundary terms' side rays) shade with :meth:`Integrator.radiance_looped` instead, the same sum over
   the lights in a run-time loop, so that their code does not grow with the number of lights.

**The primary cache** (:mod:`raydiff.kernels.primary`; under the same conditions, with every sample in
one batch, when the caller gives ``primary_seeds``): the camera rays' hits of a few fixed sample sets are
traced once; the visibility pass then reads the hit of the seed's set instead of tracing the camera ray,
which leaves it the shadow rays (and, in the forward pass, the shading), and the shading gradient reads
that set's shading inputs.

**The shading gradient's loop.** Its index is split into (row, column, sample) with the inner extents
compile-time constants (the film's width, the batch's samples), unless a band splits a row: run-time
extents cost an integer division or two per sample, a tenth of the kernel. The free light scalars are
read there from 0-D copies (:mod:`raydiff.device.fixed_reads`), whose gradients Taichi sums per thread
and the backward pass gathers into ``pool.grad`` after each band, instead of an atomic add per sample and
scalar onto the same few addresses.

**Mirrors.** In a scene with a mirror (a specular material: ``conductor``) and ``max_depth`` above 2, the
visibility pass follows each mirror's reflected ray, up to ``max_depth - 2`` times, and records each
reflected ray's hit in ``bounce_hit`` (one int32 per sample and bounce); the mask is then the last hit's,
the point that is shaded. The shading pass recomputes the first hit, reflects the ray off it, recomputes
the recorded next hit on that (differentiable) ray and shades it, times the mirrors' reflectances
(``specular_reflectance`` times the Fresnel term): unrolled, so still no adstack. Without a mirror, or at
``max_depth`` 2, none of it is compiled.

Scenes whose meshes move (a free pose) have their triangles placed and the BVH refit before every
visibility pass (:mod:`raydiff.kernels.placement`).

The forward pass runs both in one kernel (the visibility kernel shades with the same ``radiance``
function once it knows what is visible); the backward pass runs the shading kernel's gradient, which
Taichi generates, over the recorded batch.

Records are kept for at most ``max_batch_samples`` samples at a time, so memory grows with the pixels,
not with pixels x spp. The backward pass walks the batches in reverse and traces a batch's visibility
again unless the records already hold that batch *for the backward pass's seed*: the integrator
remembers which (seed, batch) its records hold. After ``forward(s)``, ``backward(s)`` re-traces every
batch but the last (free with one batch: today's correlated gradient); ``backward(t)`` with another seed
``t`` (an independent set of samples for the gradient, see :mod:`raydiff.optim.gradient`) re-traces
every batch, one visibility pass over all samples.
With shading records (:class:`ShadingRecords`), which the fused forward pass does not keep, ``backward``
re-traces every batch whatever its seed.

**Sums that keep their precision.** The shading gradient adds every sample's contribution into
``pool.grad``, a float32 field of a few hundred entries. One float32 accumulator per entry over tens of
millions of samples loses the small terms once the sum is large, and the gradient's terms cancel (light
from one side, shadow on the other), so the relative error grows with the samples: 2e-4 at 3M samples,
4% at 50M (``benchmarks/gradient_precision.py``). So the backward pass sums hierarchically
(:class:`GradientSum`): the samples of a batch are split into *bands* (ranges of image rows, every
view's rows one after the other, and if one row alone has too many samples, ranges of its samples) of
at most ``band_samples`` samples (:data:`DEFAULT_BAND_SAMPLES`, 2^18); each band's gradient kernel adds
into ``pool.grad`` in float32, a small kernel folds ``pool.grad`` into a float64 total and zeroes it,
and after the last band the total (which started from what ``pool.grad`` held before ``backward``:
callers may accumulate) is written back. The error is then that of one band's float32 sum (measured:
~2e-6 relative for 2^16 samples, ~5e-6 for 2^17, ~1e-4 for 2^18), whatever the resolution or spp. With
one band nothing extra runs; otherwise each band costs one more launch (the fold, over the pool's few
hundred entries) and cuts the shading gradient's launch in two: ~0.1-0.3 ms each on the CPU (more on a
busy machine, where every launch waits for its threads), ~2 ms on Vulkan through lavapipe; hence bands
of 2^18, not smaller. A backend without float64 (a Vulkan device without ``shaderFloat64``; lavapipe
has it) folds into float32 instead: one rounding per band, so the error grows at most by ``bands * 6e-8``.

A new integrator overrides :meth:`Integrator.radiance`, the per-sample shading, and keeps the rest.
"""

import math

import numpy as np
import taichi as ti

from .. import backend
from ..device.hitrecord import MISS, light_seen
from ..device.scene import DeviceScene
from ..scene.limits import SHADING_RECORD_SAMPLES, primary_sets_that_fit
from .camera import make_camera
from .intersect import make_intersector
from .lights import make_irradiance_any, make_lights, make_towards_any
from .materials import make_bsdf, make_specular
from .placement import make_placement
from .primary import PrimaryCache, make_cached_visibility
from .surface import make_surface

DEFAULT_MAX_BATCH_SAMPLES = 1 << 23  # 8M samples: 64 MB of records
#: Samples per float32 partial sum of the gradient (see :class:`GradientSum`): 2^18, a 256x256 fit at 4
#: spp in one band (no extra launch), relative error ~1e-4 at most as measured (2^17: ~5e-6, 2^16:
#: ~2e-6, at one or two more launches per 2^18 samples).
DEFAULT_BAND_SAMPLES = 1 << 18
#: Most samples per batch for which the gradient's visibility pass keeps each hit's shading inputs (see
#: :class:`ShadingRecords`): 2^21, 80 MB at 40 bytes a sample (a 256x256 fit up to 32 spp, 512x512 up to 8).
MAX_SHADING_RECORD_SAMPLES = SHADING_RECORD_SAMPLES


@ti.func
def detach(v):
    """The vector ``v`` with no derivative: a round trip through its bits, which autodiff does not follow."""
    return ti.Vector([ti.bit_cast(ti.bit_cast(v[i], ti.i32), ti.f32) for i in ti.static(range(v.n))])


_FLOAT64: dict[str, bool] = {}  # per backend: whether float64 fields work (probed once)


def float64_supported() -> bool:
    """Whether the current backend computes in float64 (CPU and CUDA do; a Vulkan device only with
    ``shaderFloat64``, which Mesa's lavapipe has). Probed once per Vulkan backend by running a tiny kernel."""
    name = backend.current().name
    if name in ("cpu", "cuda"):  # always: no probe kernel to compile at start-up (docs/performance.md, 10)
        return True
    if name not in _FLOAT64:
        try:
            probe = ti.field(ti.f64, shape=2)

            @ti.kernel
            def add():
                for i in probe:
                    probe[i] += ti.cast(1.0, ti.f64) + ti.cast(1e-12, ti.f64)

            add()
            _FLOAT64[name] = abs(float(probe.to_numpy()[0]) - (1.0 + 1e-12)) < 1e-15
        except Exception:  # noqa: BLE001 (Taichi raises RuntimeError or TaichiTypeError, by version)
            _FLOAT64[name] = False
    return _FLOAT64[name]


class GradientSum:
    """``pool.grad`` summed hierarchically: each band of samples adds into ``pool.grad`` (float32), then
    :meth:`fold` moves that partial sum into a float64 total; :meth:`finish` writes the total back.

    Use::

        sums.fold(first=True)   # after the first band: total = pool.grad (what it held before + band 0)
        sums.fold()             # after every further band but the last: total += pool.grad
        sums.finish()           # after the last band: pool.grad = total + pool.grad

    With a single band none of it is needed. Any other term added into ``pool.grad`` in many pieces (the
    boundary terms) can go through the same object. Without float64 on the backend the total is float32
    (one rounding per band).
    """

    def __init__(self, pool):
        n = pool.shape[0]
        self.dtype = ti.f64 if float64_supported() else ti.f32
        self.total = ti.field(self.dtype, shape=n)
        total, grad, dtype = self.total, pool.grad, self.dtype

        @ti.kernel
        def fold(first: ti.i32):
            for i in total:
                before = ti.cast(0.0, dtype)
                if first == 0:
                    before = total[i]
                total[i] = before + ti.cast(grad[i], dtype)
                grad[i] = 0.0

        @ti.kernel
        def finish():
            for i in total:
                grad[i] = ti.cast(total[i] + ti.cast(grad[i], dtype), ti.f32)

        self._fold, self._finish = fold, finish

    def fold(self, first: bool = False) -> None:
        self._fold(1 if first else 0)

    def finish(self) -> None:
        self._finish()


class ShadingRecords:
    """What ``radiance`` takes of every sample's hit, kept by the gradient's visibility pass while the hit
    geometry is a constant to the gradient (neither a camera nor the geometry free, no mirror bounces).

    The shading gradient then differentiates ``radiance`` alone from these, instead of regenerating the
    camera ray and recomputing the hit (``surface``) in the reverse-mode kernel: the same values, since
    they are the ones the visibility pass computed by the same functions, and with the geometry constant
    their derivatives are cut anyway (``detach``). That recomputation and its adjoint were two thirds of
    the shading gradient's time (docs/performance.md, section 9). Costs 40 bytes a sample (48 with a
    texture), hence :data:`MAX_SHADING_RECORD_SAMPLES`.

    Attributes (each shaped like the integrator's ``hit``, one entry per sample of a batch)
    ----------
    p, n, wo : ti.Vector.field(3, f32)
        The hit point, the shading normal (facing the viewer) and the unit direction to the viewer.
    material : ti.field(i32)
        The surface's material record.
    uv : ti.Vector.field(2, f32) or None
        The hit's texture coordinates, in a scene with a texture (else ``radiance`` gets (0, 0)).
    """

    def __init__(self, shape: tuple[int, ...], textured: bool):
        self.p = ti.Vector.field(3, ti.f32, shape=shape)
        self.n = ti.Vector.field(3, ti.f32, shape=shape)
        self.wo = ti.Vector.field(3, ti.f32, shape=shape)
        self.material = ti.field(ti.i32, shape=shape)
        self.uv = ti.Vector.field(2, ti.f32, shape=shape) if textured else None


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
    band_samples : int
        Upper bound on the samples whose gradient is summed in one float32 partial sum (see the module's
        docstring); smaller is more precise and launches more kernels (default
        :data:`DEFAULT_BAND_SAMPLES`).
    shading_records : bool
        Let the gradient's visibility pass keep the shading inputs when it can (:class:`ShadingRecords`:
        something free, neither a camera nor the geometry, no mirror bounces, a batch of at most
        :data:`MAX_SHADING_RECORD_SAMPLES`); False recomputes them in the shading gradient (the same
        gradient within float rounding, slower).
    primary_seeds : sequence of int
        The seeds of a primary cache's sample sets (:mod:`raydiff.kernels.primary`), or none for no cache.
        The cache is kept where the shading records apply and every sample fits in one batch, with as
        many of the sets as :func:`raydiff.scene.limits.primary_sets_that_fit` allows (none: no cache).

    Attributes
    ----------
    image : ti.Vector.field(3, f32), shape (views, height, width), needs_grad
        Linear RGB radiance of every view; row 0 is the top of the picture, as in the image files.
    n_views : int
        The number of views (the scene's cameras, in order).
    primary : PrimaryCache or None
        The primary cache, where there is one: a pass with seed ``s`` then uses the samples of its set
        ``primary.set_of(s)``.
    """

    def __init__(self, dev: DeviceScene, spp: int | None = None, max_batch_samples: int = DEFAULT_MAX_BATCH_SAMPLES,
                 band_samples: int = DEFAULT_BAND_SAMPLES, shading_records: bool = True, primary_seeds=()):
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
        self.visible = ti.field(ti.i32, shape=shape + (self.batch,))  # bit l: light l seen from the shaded hit
        # Mirror bounces followed (max_depth - 2, in scenes with a mirror): the hit record of each reflected
        # ray (MISS where the previous hit was no mirror, or the reflected ray missed).
        self.n_bounces = dev.scene.mirror_bounces
        self.bounce_hit = (ti.field(ti.i32, shape=shape + (self.batch, self.n_bounces)) if self.n_bounces
                           else None)
        records = (shading_records and len(dev.free_offsets) > 0 and not ({"camera", "geometry"} & dev.free_groups)
                   and not self.n_bounces and pixels * self.batch <= MAX_SHADING_RECORD_SAMPLES)  # (a render: none)
        sets = primary_sets_that_fit(len(primary_seeds), pixels * self.spp) if records and self.n_batches == 1 else 0
        self.primary = PrimaryCache(shape + (self.spp,), primary_seeds[:sets], dev.n_textures > 0) if sets else None
        records = records and self.primary is None  # the cache holds the shading inputs itself
        self.shading = ShadingRecords(shape + (self.batch,), dev.n_textures > 0) if records else None

        self.camera = make_camera(dev, self.width, self.height, self.spp)
        self.camera_ray = self.camera.camera_ray
        self.nearest, self.occluded = make_intersector(dev)
        self.surface = make_surface(dev)
        self.lights = make_lights(dev)
        self.towards_any = make_towards_any(dev)
        self.irradiance_any = make_irradiance_any(dev)
        self.bsdf = make_bsdf(dev)
        self.is_specular, self.reflectance = make_specular(dev)
        self.place_meshes = make_placement(dev)
        self.band_samples = max(1, int(band_samples))
        self.bands = [self._plan_bands(self._batch_size(b)) for b in range(self.n_batches)]
        self.gradient_sum = GradientSum(dev.pool) if sum(map(len, self.bands)) > 1 else None
        self._records: tuple[int, int] | None = None  # (seed, batch) the hit/visible fields hold
        self._build_kernels()

    def _batch_size(self, b: int) -> int:
        """The samples per pixel batch ``b`` holds (the last one may be partial)."""
        return min(self.batch, self.spp - b * self.batch)

    def _plan_bands(self, count: int) -> list[tuple[int, int, int, int]]:
        """``(row0, row1, sample0, sample1)`` per band of a batch of ``count`` samples per pixel: rows
        index every view's rows one after the other (row = view * height + y), samples the batch's axis.
        Each band has at most ``band_samples`` samples (or one row's, if a row has more than that and a
        single sample of each of its pixels already does)."""
        rows, per_row = self.n_views * self.height, self.width * count
        if per_row <= self.band_samples:
            step = max(1, self.band_samples // per_row)
            return [(r, min(r + step, rows), 0, count) for r in range(0, rows, step)]
        step = max(1, self.band_samples // self.width)
        return [(r, r + 1, s, min(s + step, count)) for r in range(rows) for s in range(0, count, step)]

    # =============================================================================================
    # Per-sample shading: what a new integrator overrides
    # =============================================================================================

    def radiance(self):
        """Return a ``ti.func`` ``(p, n, wo, material, uv, visible_mask) -> vec3``: the radiance leaving
        ``p`` (at surface coordinates ``uv``) towards ``wo`` (the camera). It must be straight-line code (static loops only) so that it can
        be differentiated without an adstack."""
        lights, bsdf = self.lights, self.bsdf

        @ti.func
        def radiance(p, n, wo, a, uv, mask):
            total = ti.Vector([0.0, 0.0, 0.0])
            for li in ti.static(range(len(lights))):
                wi, _ = lights[li].towards(p)
                total += light_seen(mask, li) * bsdf(a, p, n, wi, wo, uv) * lights[li].irradiance(p, n)
            return total

        return radiance

    def radiance_looped(self):
        """:meth:`radiance` with a run-time loop over the lights, for the kernels that are not
        differentiated (the forward pass's fused shading, the boundary terms' side rays): their code, and
        compile time, then do not grow with the lights. The same sum in the same order, skipping the
        lights the mask does not see. An integrator that overrides :meth:`radiance` overrides this too
        (or returns its ``radiance`` here)."""
        bsdf, n_lights = self.bsdf, len(self.lights)
        towards_any, irradiance_any = self.towards_any, self.irradiance_any

        @ti.func
        def radiance(p, n, wo, a, uv, mask):
            total = ti.Vector([0.0, 0.0, 0.0])
            for li in range(n_lights):
                if (mask >> li) & 1:
                    wi, _ = towards_any(li, p)
                    total += bsdf(a, p, n, wi, wo, uv) * irradiance_any(li, p, n)
            return total

        return radiance

    # =============================================================================================
    # Kernels (compiled once per scene shape)
    # =============================================================================================

    def _build_kernels(self):
        dev = self.dev
        camera_ray, nearest, occluded, surface = self.camera_ray, self.nearest, self.occluded, self.surface
        radiance, towards_any, n_lights = self.radiance(), self.towards_any, len(self.lights)
        looped = self.radiance_looped()  # the kernels that are not differentiated loop over the lights
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
        def lights_seen_of(p, n, code, lo, hi):
            """The visibility mask of the surface point ``p`` (normal ``n``, hit record ``code``) for the
            lights ``lo <= l < hi`` (the other bits 0)."""
            mask = 0
            for li in range(lo, hi):  # a run-time loop: one shadow-ray walk compiled, whatever the count
                wi, dist = towards_any(li, p)
                if n.dot(wi) > 0.0 and not occluded(p, wi, dist - eps, code):
                    mask |= 1 << li
            return mask

        @ti.func
        def lights_seen(p, n, code):
            """The visibility mask of the surface point ``p`` (normal ``n``, hit record ``code``)."""
            return lights_seen_of(p, n, code, 0, n_lights)

        @ti.func
        def trace_lights(o, d, lo, hi):
            """``(code, mask, p, n, material, uv)`` of the ray (o, d): the hit record, the visibility mask
            of the lights ``lo <= l < hi`` and the hit's geometry (meaningless for a miss). Mirrors are
            not followed."""
            t, code = nearest(o, d)
            mask = 0
            p, n, a, uv = o, d, 0, ti.math.vec2(0.0, 0.0)
            if code != MISS:
                p, n, a, uv = surface(o, d, code)
                mask = lights_seen_of(p, n, code, lo, hi)
            return code, mask, p, n, a, uv

        @ti.func
        def trace(o, d):
            """:func:`trace_lights` with every light."""
            return trace_lights(o, d, 0, n_lights)

        @ti.func
        def radiance_along(o, d):
            """The radiance arriving at ``o`` along ``d`` (not differentiated: visibility included; mirrors
            are black)."""
            code, mask, p, n, a, uv = trace(o, d)
            value = ti.Vector([0.0, 0.0, 0.0])
            if code != MISS:
                value = looped(p, n, -d, a, uv, mask)
            return value

        self.trace, self.radiance_along = trace, radiance_along
        self.trace_lights = trace_lights
        n_bounces, bounce_hit = self.n_bounces, self.bounce_hit
        is_specular, reflectance = self.is_specular, self.reflectance

        @ti.func
        def follow(o, d, v, y, x, b):
            """Trace the ray (o, d) and, while it meets mirrors, their reflected rays (up to ``n_bounces``),
            recording each reflected ray's hit in ``bounce_hit``. Returns ``(first, code, mask, p, n,
            material, uv, d, weight)``: the first hit's record, the last hit's record, visibility mask,
            point, normal, material and uv, the ray that met it, and the mirrors' product of reflectances."""
            weight = ti.Vector([1.0, 1.0, 1.0])
            first, code = MISS, MISS
            p, n, a, uv = o, d, 0, ti.math.vec2(0.0, 0.0)
            live = True
            for k in range(n_bounces + 1):  # not differentiated: a run-time loop, one nearest-hit walk compiled
                c = MISS
                if live:
                    _, c = nearest(o, d)
                    live = False
                    if c != MISS:
                        p, n, a, uv = surface(o, d, c)
                        if k < n_bounces and is_specular(a):
                            weight *= reflectance(a, n, -d)
                            o, d = p, d - 2.0 * d.dot(n) * n
                            live = True
                if k == 0:
                    first = c
                else:
                    bounce_hit[v, y, x, b, k - 1] = c
                if c != MISS:
                    code = c
            mask = 0
            if code != MISS:
                mask = lights_seen(p, n, code)
            return first, code, mask, p, n, a, uv, d, weight

        shading = self.shading
        keeps_shading, textured = shading is not None, shading is not None and shading.uv is not None

        @ti.func
        def keep_shading(v, y, x, b, p, n, wo, a, uv):
            """Record one sample's shading inputs (see :class:`ShadingRecords`)."""
            shading.p[v, y, x, b] = p
            shading.n[v, y, x, b] = n
            shading.wo[v, y, x, b] = wo
            shading.material[v, y, x, b] = a
            if ti.static(textured):
                shading.uv[v, y, x, b] = uv

        @ti.kernel
        def visibility(seed: ti.u32, first_sample: ti.i32, shade_too: ti.template()):
            for v, y, x, b in hit:
                code, mask = MISS, 0
                if first_sample + b < spp:
                    o, d = camera_ray(v, x, y, first_sample + b, seed)
                    if ti.static(n_bounces == 0):
                        code, mask, p, n, a, uv = trace(o, d)
                        if ti.static(shade_too):  # the forward pass: shading fused in, as `shade` does it
                            if code != MISS:
                                image[v, y, x] += looped(p, n, -d, a, uv, mask) * (1.0 / spp)
                        if ti.static(keeps_shading and not shade_too):  # the gradient's pass
                            if code != MISS:
                                keep_shading(v, y, x, b, p, n, -d, a, uv)
                    else:
                        code, last, mask, p, n, a, uv, dl, weight = follow(o, d, v, y, x, b)
                        if ti.static(shade_too):
                            if last != MISS:
                                image[v, y, x] += weight * looped(p, n, -dl, a, uv, mask) * (1.0 / spp)
                else:
                    if ti.static(n_bounces > 0):
                        for k in range(n_bounces):
                            bounce_hit[v, y, x, b, k] = MISS
                hit[v, y, x, b] = code
                visible[v, y, x, b] = mask

        # ----------------------------------------------------------------------------------------------
        # Shading: the differentiated pass (only its .grad runs; the forward pass fuses it into visibility)
        # ----------------------------------------------------------------------------------------------
        height, width, batch = self.height, self.width, self.batch
        # A band is whole rows of a batch unless one row alone holds more than band_samples (_plan_bands):
        # then its sample range is a run-time one. Otherwise the loop's inner extents are compile-time
        # constants, so splitting its index into (row, x, sample) costs no run-time integer division (a
        # tenth of the shading gradient's time); samples past spp in a last, partial batch are MISS.
        split_rows = any(s0 != 0 for bands in self.bands for _, _, s0, _ in bands)

        @ti.func
        def recompute(o, d, code):
            """The hit of record ``code`` on the ray (o, d), recomputed differentiably (see ``surface``)."""
            p, n, a, uv = surface(o, d, code)
            if ti.static(geometry_constant):
                p, n, uv = detach(p), detach(n), detach(uv)
            return p, n, a, uv

        @ti.kernel
        def shade(seed: ti.u32, first_sample: ti.i32, row0: ti.i32, row1: ti.i32, sample0: ti.i32, sample1: ti.i32):
            for r, x, b in ti.ndrange((row0, row1), width, (sample0, sample1) if ti.static(split_rows) else batch):
                v = r // height
                y = r - v * height
                code = hit[v, y, x, b]
                if code != MISS and first_sample + b < spp:
                    o, d = camera_ray(v, x, y, first_sample + b, seed)
                    p, n, a, uv = recompute(o, d, code)
                    if ti.static(n_bounces == 0):
                        image[v, y, x] += radiance(p, n, -d, a, uv, visible[v, y, x, b]) * (1.0 / spp)
                    else:
                        weight = ti.Vector([1.0, 1.0, 1.0])
                        # Each recorded mirror bounce: reflect the ray off the hit just recomputed (so
                        # gradients reach the mirror's geometry) and recompute the next hit (unrolled: no
                        # adstack).
                        for k in ti.static(range(n_bounces)):
                            bounce = bounce_hit[v, y, x, b, k]
                            if bounce != MISS:
                                weight *= reflectance(a, n, -d)
                                o, d = p, d - 2.0 * d.dot(n) * n
                                p, n, a, uv = recompute(o, d, bounce)
                        image[v, y, x] += weight * radiance(p, n, -d, a, uv, visible[v, y, x, b]) * (1.0 / spp)

        @ti.func
        def recorded_uv(v, y, x, b):
            uv = ti.math.vec2(0.0, 0.0)
            if ti.static(textured):
                uv = shading.uv[v, y, x, b]
            return uv

        @ti.func
        def from_records(source, v, y, x, b):
            """``(p, n, wo, material, uv)`` of a sample, from the shading records (``source`` unused)."""
            return (shading.p[v, y, x, b], shading.n[v, y, x, b], shading.wo[v, y, x, b],
                    shading.material[v, y, x, b], recorded_uv(v, y, x, b))

        primary = self.primary
        # With a primary cache, the shading inputs are those of the set the visibility pass read (its
        # index in place of the seed: ``source``); one batch holds every sample then
        recorded = from_records if primary is None else primary.inputs

        @ti.kernel
        def shade_recorded(source: ti.u32, first_sample: ti.i32, row0: ti.i32, row1: ti.i32, sample0: ti.i32,
                           sample1: ti.i32):
            # `shade` from the gradient's visibility pass's records (see ShadingRecords) or from the primary
            # cache's set `source`: radiance alone
            for r, x, b in ti.ndrange((row0, row1), width, (sample0, sample1) if ti.static(split_rows) else batch):
                v = r // height
                y = r - v * height
                code = hit[v, y, x, b]
                if code != MISS:  # (no `and`: Taichi keeps the flag of a short-circuit `and` on an adstack)
                    if first_sample + b < spp:
                        p, n, wo, a, uv = recorded(ti.cast(source, ti.i32), v, y, x, b)
                        image[v, y, x] += radiance(p, n, wo, a, uv, visible[v, y, x, b]) * (1.0 / spp)

        self._visibility = visibility
        self._shade = shade if shading is None and primary is None else shade_recorded
        if primary is not None:
            primary.build(camera_ray, nearest, surface)
            self._visibility = make_cached_visibility(primary, lights_seen, looped, hit, visible, image, spp)

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
            self._visibility(self._source(seed), b * self.batch, True)
        # The fused pass keeps no shading records: with them, the backward pass traces its own (the
        # primary cache has them: its records stand).
        self._records = (seed, self.n_batches - 1) if self.shading is None else None

    def forward_samples(self, seed: int, samples: int) -> None:
        """Render into ``image`` only the last ``samples`` of every pixel's ``spp`` samples of the seed
        ``seed``, each weighted ``1 / spp`` as :meth:`forward` weighs it: ``image * spp / samples`` is
        then an estimate of the pixel with fewer samples (what a finite difference on common samples
        needs, at a fraction of a render's cost). Overwrites ``image``; the records no longer stand for a
        batch of any seed (:meth:`backward` traces its own again)."""
        samples = max(1, min(int(samples), self.spp))
        self.image.fill(0.0)
        seed = int(seed) & 0xFFFFFFFF
        if self.place_meshes is not None:
            self.place_meshes()
        for first in range(self.spp - samples, self.spp, self.batch):
            self._visibility(self._source(seed), first, True)
        self._records = None

    def backward(self, seed: int) -> None:
        """Accumulate ``d loss / d pool`` into ``pool.grad`` from ``image.grad``, with the samples of
        ``seed``.

        Call after :meth:`forward` with unchanged parameters. ``seed`` may be the forward pass's (the
        records of its last batch are reused) or any other (every batch's visibility is traced again
        with it: an independent estimate). ``pool.grad`` is not cleared here (see :meth:`zero_grad`): the
        gradient is added to what it holds, summed band by band (see the module's docstring).
        """
        seed = int(seed) & 0xFFFFFFFF
        sums, folds = self.gradient_sum, 0
        last = sum(map(len, self.bands)) - 1
        fixed = self.dev.fixed_reads  # the free light scalars, summed per thread (device/fixed_reads.py)
        if fixed.any:
            fixed.load()
        for b in reversed(range(self.n_batches)):
            if self._records != (seed, b):
                self._visibility(self._source(seed), b * self.batch, False)
                self._records = (seed, b)
            for row0, row1, sample0, sample1 in self.bands[b]:
                with fixed.reading():
                    self._shade.grad(self._source(seed), b * self.batch, row0, row1, sample0, sample1)
                if fixed.any:
                    fixed.gather()
                if sums is not None and folds < last:  # this band's float32 sum into the float64 total
                    sums.fold(first=folds == 0)
                    folds += 1
        if folds:
            sums.finish()  # the total, plus the last band's partial sum, back into pool.grad

    def _source(self, seed: int) -> int:
        """What the visibility and shading kernels take for the samples of ``seed``: the seed itself, or
        with a primary cache the index of its set (the cache filled first)."""
        if self.primary is None:
            return seed
        self.primary.fill()
        return self.primary.set_of(seed)

    def refresh_primary(self, k: int, seed: int) -> None:
        """Give set ``k`` of the primary cache the samples of ``seed`` (:meth:`PrimaryCache.refresh`: a
        rolling cache's step); the visibility records of its old samples are not reused."""
        self.primary.refresh(k, seed)
        self._records = None

    def zero_grad(self) -> None:
        self.dev.pool.grad.fill(0.0)
        self.image.grad.fill(0.0)

    def to_numpy(self, view: int = 0) -> np.ndarray:
        """The current image of one view, (height, width, 3) float32 linear RGB."""
        return self.views_numpy()[view]

    def views_numpy(self) -> list[np.ndarray]:
        """The current image of every view, in the scene's camera order (one device read)."""
        return list(self.image.to_numpy())
