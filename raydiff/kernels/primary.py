"""Primary hits traced once: a pool of fixed sample sets whose camera rays' hits every iteration reuses.

With point and directional lights, a sample's only randomness is its camera ray's jitter. While neither a
camera nor the geometry is free and no mirror is followed (when :class:`raydiff.kernels.integrator.
ShadingRecords` apply), each camera ray's nearest hit and its shading inputs (hit record, point, normal,
direction to the viewer, material, uv) depend on the jitter alone, not on the free parameters. So the
:class:`PrimaryCache` traces them once, for ``K`` fixed *sets* of samples (set ``k`` is every pixel's
``spp`` samples of the seed ``seeds[k]``), and a fit's render, gradient and Jacobian renders then run
only the shadow rays and the shading (:func:`make_cached_visibility`).

**Which set.** A pass with sample seed ``s`` uses set :meth:`PrimaryCache.set_of` ``(s) = s mod K``: the
same seed gives the same samples (common random numbers: a finite difference still compares renders on
the same samples), and a caller that needs independent samples picks a seed of another set
(:func:`raydiff.optim.gradient.stream_seed`): the forward and the gradient pass of one iteration, the
Levenberg-Marquardt residual, its two Jacobians and its trials.

**What it does to the estimator.** With fixed sets the fit minimises the loss of a fixed ``K x spp``
-sample render (the sets' union: each pixel's ``K`` jittered, or stratified, patterns of ``spp``
samples) instead of the loss of the pixel integral: the difference is that pattern's aliasing of the
image, a bias that does not average out over the iterations (the values' final jitter falls to the
error of ``K x spp`` samples, not to ``1/sqrt`` of the iterations'). What sets the fixed point is the
*forward* pass's samples: the gradient of the L2 loss is ``2 (I_a - R) dI_b`` with ``a`` the forward
pass's samples and ``b`` the gradient's (independent: :func:`raydiff.optim.gradient.stream_seed`);
over the iterations its mean is ``2 (E[I_a] - R) E[dI_b]``, zero at the truth (``E[I] = R``) if the
forward samples are fresh, whatever the gradient's are; with fixed sets ``E[I_a]`` is the fixed
pattern's image, and the zero moves. (Levenberg-Marquardt likewise: the residual ``r`` fresh, the
Jacobians on cached sets, ``Jᵀ W E[r] = 0`` at the truth.)

**A rolling cache** (:meth:`PrimaryCache.refresh`; ``FitSettings.primary_refresh``) therefore re-traces
the set an iteration's forward pass reads once its samples are ``M`` iterations old
(:func:`raydiff.optim.gradient.refresh_due`): with ``M = 1`` every loss is measured on fresh samples,
at the cost of one set's camera rays per iteration (the plain path traces them for the forward pass
too, and again for the gradient, the Jacobians and the trials: those stay cached). Jittering the
samples within a set instead would not keep the recorded hits valid: a moved camera ray may hit another
primitive (near an outline) or another point of the same one, so its nearest hit must be searched again,
which is the camera-ray pass the cache saves. ``benchmarks/recovery.py --primary-sets --primary-refresh
--seeds`` measures the recovered parameters of each (docs/performance.md, section 16).

**The default** for every fit where it applies: 8 sets, refreshed with ``M = 1``
(``FitSettings.primary_sets``, ``primary_refresh``; ``--primary-sets 0`` turns it off).

**Memory.** :data:`RECORD_BYTES` bytes per sample and set (:data:`TEXTURED_RECORD_BYTES` with a
texture): at most :data:`raydiff.scene.limits.PRIMARY_CACHE_SAMPLES` samples over all sets
(:func:`raydiff.scene.limits.primary_sets_that_fit`), else fewer sets, else none (today's path).
The gradient's own shading records are not kept with the cache (they would copy a set).
"""

from collections.abc import Sequence

import taichi as ti

from ..device.hitrecord import MISS
from ..scene.limits import PRIMARY_RECORD_BYTES, PRIMARY_TEXTURED_RECORD_BYTES

#: Bytes per sample and set: hit record, point, normal, direction to the viewer, material (4 + 3 x 12 + 4).
RECORD_BYTES = PRIMARY_RECORD_BYTES
#: With a texture, the uv too (+ 8).
TEXTURED_RECORD_BYTES = PRIMARY_TEXTURED_RECORD_BYTES


class PrimaryCache:
    """The camera rays' hits of ``K`` fixed sample sets, traced once (see the module's docstring).

    Parameters
    ----------
    shape : tuple of int
        ``(views, height, width, spp)``: one entry per sample of a set.
    seeds : sequence of int
        The sample seed of each set (``K = len(seeds)``, at least 1).
    textured : bool
        Whether the scene has a texture (then each hit's uv is kept).

    Attributes (each shaped ``(K,) + shape``)
    ----------
    code : ti.field(i32)
        The hit record (:data:`raydiff.device.hitrecord.MISS` for none).
    p, n, wo : ti.Vector.field(3, f32)
        The hit point, the shading normal and the unit direction to the viewer.
    material : ti.field(i32)
    uv : ti.Vector.field(2, f32) or None
    inputs : ti.func
        ``inputs(k, v, y, x, s) -> (p, n, wo, material, uv)``: sample ``s`` of pixel (x, y) of view ``v``
        in set ``k``.
    filled : bool
        Whether :meth:`fill` has run.
    """

    def __init__(self, shape: tuple[int, ...], seeds: Sequence[int], textured: bool):
        if len(seeds) < 1:
            raise ValueError("a primary cache needs at least one sample set")
        self.sets = len(seeds)
        full = (self.sets,) + tuple(shape)
        self.code = ti.field(ti.i32, shape=full)
        self.p = ti.Vector.field(3, ti.f32, shape=full)
        self.n = ti.Vector.field(3, ti.f32, shape=full)
        self.wo = ti.Vector.field(3, ti.f32, shape=full)
        self.material = ti.field(ti.i32, shape=full)
        self.uv = ti.Vector.field(2, ti.f32, shape=full) if textured else None
        self._fill = None
        self.reseed(seeds)
        self.inputs = _make_inputs(self.p, self.n, self.wo, self.material, self.uv)

    def reseed(self, seeds: Sequence[int]) -> None:
        """Take new seeds for the sets (as many as there are sets: a fit reset with another seed); the hits
        are traced again on the next use."""
        if len(seeds) != self.sets:
            raise ValueError(f"the primary cache has {self.sets} sets, not {len(seeds)}")
        self.seed_values = [int(s) & 0xFFFFFFFF for s in seeds]
        self.filled = False

    def refresh(self, k: int, seed: int) -> None:
        """Give set ``k`` the samples of ``seed`` (a rolling cache's refresh): its hits are traced again now
        if the cache is filled (one camera-ray pass over one set), else with the others on the next use."""
        if not 0 <= k < self.sets:
            raise ValueError(f"the primary cache has sets 0 to {self.sets - 1}, not {k}")
        self.seed_values[k] = int(seed) & 0xFFFFFFFF
        if self.filled:
            self._fill(k, self.seed_values[k])

    @staticmethod
    def bytes_per_sample(textured: bool) -> int:
        """The device bytes one sample of one set costs."""
        return TEXTURED_RECORD_BYTES if textured else RECORD_BYTES

    def set_of(self, seed: int) -> int:
        """The set a pass with sample seed ``seed`` uses: ``seed mod K``."""
        return (int(seed) & 0xFFFFFFFF) % self.sets

    def build(self, camera_ray, nearest, surface) -> None:
        """Compile the fill kernel from the integrator's camera ray, nearest-hit search and surface."""
        code, p, n, wo, material, uv = self.code, self.p, self.n, self.wo, self.material, self.uv
        textured = uv is not None
        views, height, width, spp = code.shape[1:]

        @ti.kernel
        def fill(k: ti.i32, seed: ti.u32):
            for v, y, x, s in ti.ndrange(views, height, width, spp):
                o, d = camera_ray(v, x, y, s, seed)
                _, c = nearest(o, d)
                point, normal, a, coords = o, d, 0, ti.math.vec2(0.0, 0.0)
                if c != MISS:
                    point, normal, a, coords = surface(o, d, c)
                code[k, v, y, x, s] = c
                p[k, v, y, x, s] = point
                n[k, v, y, x, s] = normal
                wo[k, v, y, x, s] = -d
                material[k, v, y, x, s] = a
                if ti.static(textured):
                    uv[k, v, y, x, s] = coords

        self._fill = fill

    def fill(self) -> None:
        """Trace every set's camera rays and record their hits (once; later calls do nothing)."""
        if not self.filled:
            for k, seed in enumerate(self.seed_values):
                self._fill(k, seed)
            self.filled = True



def _make_inputs(p, n, wo, material, uv):
    """``inputs(k, v, y, x, s) -> (p, n, wo, material, uv)``: sample ``s`` of pixel (x, y) of view ``v``
    in set ``k`` (uv (0, 0) without a texture)."""
    textured = uv is not None

    @ti.func
    def inputs(k, v, y, x, s):
        coords = ti.math.vec2(0.0, 0.0)
        if ti.static(textured):
            coords = uv[k, v, y, x, s]
        return p[k, v, y, x, s], n[k, v, y, x, s], wo[k, v, y, x, s], material[k, v, y, x, s], coords

    return inputs


def make_cached_visibility(cache: PrimaryCache, lights_seen, radiance, hit, visible, image, spp: int):
    """The visibility kernel of :class:`raydiff.kernels.integrator.Integrator` for a scene with a
    :class:`PrimaryCache`: ``visibility(set, first_sample, shade_too)`` reads each sample's hit from set
    ``set`` instead of tracing its camera ray, traces its shadow rays (``lights_seen``) and writes ``hit``
    and ``visible`` for index ``b`` of samples ``first_sample + b``; with ``shade_too`` it also adds the
    sample's radiance (``radiance``, divided by ``spp``) to ``image``, as the plain forward pass does."""

    @ti.kernel
    def visibility(k: ti.i32, first_sample: ti.i32, shade_too: ti.template()):
        for v, y, x, b in hit:
            code, mask = MISS, 0
            s = first_sample + b
            if s < spp:
                code = cache.code[k, v, y, x, s]
                if code != MISS:
                    p, n, wo, a, uv = cache.inputs(k, v, y, x, s)
                    mask = lights_seen(p, n, code)
                    if ti.static(shade_too):
                        image[v, y, x] += radiance(p, n, wo, a, uv, mask) * (1.0 / spp)
            hit[v, y, x, b] = code
            visible[v, y, x, b] = mask

    return visibility
