"""Levenberg-Marquardt on the image residuals, for fits with few free scalars.

The L2 loss is a weighted sum of squares of the residuals ``r = clamp(I(θ)) - R`` over every pixel,
channel and view (:mod:`raydiff.optim.loss`: weight ``w_v = weight / (3 pixels)`` per view), so a
Gauss-Newton step sees the loss's curvature where Adam sees only its slope: with ``J = d clamp(I) / dθ``
(one column per free scalar),

    (A + λ D) δ = -g,      A = Jᵀ W J,   g = Jᵀ W r,   D = diag(A)

(Marquardt's scaling: the damping is in each parameter's own units). ``λ`` adapts by how well the
quadratic model predicted the loss's change (Nielsen's rule): a step that lowers the loss is taken and
``λ`` shrinks (down to a third), one that does not is retried with ``λ`` doubled, then quadrupled, ...
(at most :data:`TRIES` trials an iteration; if none lowers the loss, the values stay).

**One iteration with seed s** (after :meth:`LevenbergMarquardt.evaluate` rendered the residual with s)::

    r      <- clamp(image) - R                       (the render of s: the fit's loss row)
    J1, J2 <- every column twice, on the samples of s_J1 and of s_J2 (a fraction of the fit's spp each)
    A, g   <- one kernel, summed in float64; one device read of [A | g | θ] (k x (k + 2))
    L0 <- loss(θ; s_T);  L1 <- loss(θ + δ; s_T)      (accept if L1 < L0; retry with more damping if not)

**The Jacobian by differences with common random numbers.** Column j is ``(I(θ + h_j e_j) - I(θ - h_j
e_j)) / 2 h_j``, both renders on the same samples, so the difference holds only what moving the parameter
changes: the shading (smoothly) *and* the outlines and shadow edges that move across samples, which a
shading derivative (forward- or reverse-mode autodiff at fixed film points) leaves out and which
raydiff's reverse-mode path adds as boundary terms (tests/test_levenberg.py checks ``2 Jᵀ W r`` against
that gradient, edges included). A step ``h_j`` of :data:`STEP` of the parameter's scale (the stop
criterion's: the scene's size for places, 1 for unit directions, the value otherwise,
:func:`raydiff.optim.converge.scales`) moves an edge by a pixel or a few, so an edge crosses enough
samples to be seen and a column is a secant over that step (the curvature it misses is second order).
Columns of what the image is linear in (:data:`LINEAR_FIELDS`: albedos, intensities, irradiances) are
forward differences from one render at θ, exact but for clamping. (Forward differences for every column,
half the renders, were measured: faster where they worked, but mesh_pose diverged and shadow_only
stalled at 4%: an edge seen through a one-sided difference of few samples is too noisy.)

**Two estimates, so that noise does not shrink the step.** A column estimated from few samples is
noisy, and ``Jᵀ W J`` of a noisy ``J`` is biased upwards by the noise's variance (errors in the
variables): the step shrinks, most for the parameters seen only through edges. So every column is
estimated twice, from independent samples, and ``A = (J1ᵀ W J2 + J2ᵀ W J1) / 2`` (unbiased: the two
noises are independent), ``g = ((J1 + J2) / 2)ᵀ W r``. Each estimate renders :data:`JACOBIAN_SHARE` of
the fit's samples per pixel (:meth:`raydiff.kernels.integrator.Integrator.forward_samples`), so both
together cost the renders of one full-spp Jacobian: ``2k`` forward passes (one for a linear
component, plus one at θ), no backward pass. Noise can leave ``A`` slightly indefinite; its eigenvalues are clipped
to be positive (:func:`solve`).

**Independent samples.** The residual's samples (``s``), the Jacobians' (``s_J1``, ``s_J2``) and the
trials' (``s_T``) are streams of the iteration's seed (:func:`raydiff.optim.gradient.derive_seed`;
with a primary cache, each on a set of its own: :func:`raydiff.optim.gradient.stream_seed`). A
Jacobian from the residual's own samples correlates with the residual's noise, and the step fits that
noise (the bias the gradient's decorrelation removes, :mod:`raydiff.optim.gradient`); a trial compared on
the residual's samples favours the steps that fitted them. The trials compare ``θ`` and ``θ + δ`` on the
same samples ``s_T``, so the comparison holds the step's effect, not two renders' noise.

**Settling at the noise floor.** Once the fit is within the Monte Carlo noise of the truth, no trial can
tell a better step from a worse one (and one that happens to pass can throw the values back by the
noise of a single render). So the fit *settles* once every trial of an iteration fails and its first
step was under :data:`SETTLE_STEP` of every parameter's scale (a trigger on the step's predicted fall of
the loss, under 1% of the loss, was measured and dropped: a ball seen only through its shadow explains
little of the loss even 2.6% off, and settled there): from then on iteration ``c``
moves ``1 / (c + 1)`` of the way to its Gauss-Newton target ``θ + δ`` without trials, so the values are
the running mean of the targets and their noise falls as ``1 / sqrt(c)`` (Adam's decaying rates do the
same, more slowly). A target that is not small (a badly conditioned estimate once sent a mesh's rotation
85 degrees away) ends the settling: that iteration searches with trials again. The returned values are the last iterate, not the lowest noisy loss seen.

**Constraints and the guard.** A step has no part along a free unit vector's own direction (its length
is no degree of freedom: :func:`tangent`) and is projected as Adam's is (onto every bound, unit directions
back to length 1). A non-finite matrix or loss rejects the step, keeps the values and multiplies ``λ`` by
10 (counted as a rollback).

Everything per pixel stays on the device (the Jacobians' columns, the residual, the sums); each
iteration the host reads the k x (k + 2) matrix and the trial losses and writes the step (k values), and
keeps ``λ`` and the settling count (a checkpoint saves them). Only the L2 loss has this form: the L1 loss
is fitted with Adam.
"""

import math

import numpy as np
import taichi as ti

from ..kernels.integrator import float64_supported
from .adam import unit_normaliser
from .gradient import stream_seed

JACOBIAN_STREAMS = (3, 5)  # the samples of the Jacobian's two independent estimates
TRIAL_STREAM = 4  # the trials' samples
#: The difference step of a Jacobian column, as a fraction of its parameter's scale.
STEP = 0.01
#: The Jacobian's renders trace this fraction of the fit's samples per pixel (at least one).
JACOBIAN_SHARE = 0.5
#: Fields the image is linear in (direct light: albedos, a light's intensity or irradiance): their columns
#: are forward differences, exact but for clamping, at one render each.
LINEAR_FIELDS = ("albedo", "intensity", "irradiance")
#: The damping of the first iteration (relative to the diagonal of A).
INITIAL_DAMPING = 1e-3
#: Trial steps per iteration, each with a larger damping, before the iteration keeps the values.
TRIES = 4
#: The most free scalars for which ``optimizer="auto"`` chooses Levenberg-Marquardt.
MAX_FREE = 32
#: The damping never goes below or above these.
DAMPING_RANGE = (1e-9, 1e9)
#: An iteration none of whose trials lowers the loss, with a first step under this fraction of every
#: parameter's scale, is at the noise floor: the fit settles (averages its Gauss-Newton targets).
SETTLE_STEP = 0.01
#: The operations of the two kernels (``small`` and ``exchange`` in :meth:`LevenbergMarquardt._build`); the
#: first three of ``small``'s are those on the images.
KEEP, SHOW, COLUMN, NUDGE, ACCEPT, PROJECT = range(6)
BOUNDS, APPLY, WRITE_BEST, READ_BEST, EQUATIONS = range(5)


class LevenbergMarquardt:
    """Levenberg-Marquardt on the free entries of the scene's pool (see the module's docstring).

    It has the interface the fit uses of :class:`raydiff.optim.adam.Adam` (``n``, ``index``, ``best``,
    :meth:`project`, :meth:`restart`, :meth:`read_state`, :meth:`state_arrays`), and renders itself.

    Parameters
    ----------
    integrator : raydiff.kernels.integrator.Integrator
        Renders the scene whose pool holds the parameters.
    loss : raydiff.optim.loss.ImageLoss
        The L2 loss of ``integrator.image`` (``kind == "mse"``).
    offsets : np.ndarray of int
        Pool indices of the free components (k of them, k >= 1).
    lower, upper : np.ndarray
        Per-component bounds.
    steps : np.ndarray
        Per-component difference step of the Jacobian's columns (> 0).
    unit : sequence of int, optional
        Positions (in ``offsets``) of the first component of each free unit vector.
    linear : sequence of bool, optional
        Per component, whether the image is linear in it (:data:`LINEAR_FIELDS`): its column is a forward
        difference. Default: none (every column a central difference).
    damping : float
        The first iteration's ``λ`` (0: undamped Gauss-Newton while steps succeed).

    Raises
    ------
    ValueError
        If the loss is not the L2 loss, or nothing is free.
    """

    STEPS, HALVINGS, BEST_ITERATION, LAST_ROLLBACK = range(4)
    STATE_ARRAYS = ("lm_best", "lm_best_loss", "lm_state", "lm_damping")

    def __init__(self, integrator, loss, offsets, lower, upper, steps, unit=(), linear=None,
                 damping: float = INITIAL_DAMPING):
        if loss.kind != "mse":
            raise ValueError(f"Levenberg-Marquardt fits the L2 loss (mse), not {loss.kind}: use Adam")
        if len(offsets) < 1:
            raise ValueError("Levenberg-Marquardt needs at least one free component")
        self.integrator, self.loss = integrator, loss
        self.n = k = len(offsets)
        self.n_unit = len(unit)
        self.initial_damping = float(damping)
        self.linear = np.zeros(k, dtype=bool) if linear is None else np.asarray(linear, dtype=bool)
        if self.linear.shape != (k,):
            raise ValueError("linear must hold one flag per free component")
        self.samples = max(1, int(round(JACOBIAN_SHARE * integrator.spp)))  # per pixel, in the Jacobian's renders
        self.index = ti.field(ti.i32, shape=k)
        self.lower = ti.field(ti.f32, shape=k)
        self.upper = ti.field(ti.f32, shape=k)
        self.unit = ti.field(ti.i32, shape=max(self.n_unit, 1))
        if self.n_unit:
            self.unit.from_numpy(np.asarray(unit, dtype=np.int32))
        self.unit_starts = [int(i) for i in unit]
        self.base = ti.field(ti.f32, shape=k)  # the iterate the step starts from
        self.best = ti.field(ti.f32, shape=k)  # the last accepted iterate
        # the loss of the history row; a scalar field allocated after the large ones below was overwritten
        # by the equations kernel on Vulkan (Taichi 1.7.4, lavapipe), so it comes before them
        self.shown_loss = ti.field(ti.f32, shape=())
        dtype = ti.f64 if float64_supported() else ti.f32
        views, height, width = integrator.image.shape
        # two independent estimates of every column: column j of estimate e is row e * k + j
        self.columns = ti.Vector.field(3, ti.f32, shape=(2 * k, views, height, width))
        self.residual = ti.Vector.field(3, ti.f32, shape=(views, height, width))
        self.at_base = ti.Vector.field(3, ti.f32, shape=(2, views, height, width))  # each estimate's render at θ
        self.shown = ti.Vector.field(3, ti.f32, shape=(views, height, width))  # the render of the history row
        # The host's side of :meth:`_exchange`: the pool offsets, two rows of k values in (bounds, a step,
        # the best values) and a k x (k + 2) matrix out ([A | g | θ], or the best values in column 0).
        self._ints = np.ascontiguousarray(offsets, dtype=np.int32)
        self._floats = np.zeros((2, k), dtype=np.float32)
        self._out = np.zeros((k, k + 2), dtype=np.float64 if dtype == ti.f64 else np.float32)
        self._build(k, dtype)
        self.restart(lower, upper, steps)

    # =============================================================================================
    # Kernels
    # =============================================================================================

    def _build(self, k: int, dtype):
        """The two kernels: ``small`` (every step on the device's fields alone) and ``exchange`` (the
        steps that take values from the host or give them back, through ndarray arguments).

        Every distinct kernel costs its load from Taichi's offline cache (or its compilation) at a fit's
        start, tens of milliseconds each (docs/performance.md, sections 12 and 15), and so does every
        ``from_numpy`` and ``to_numpy`` of another field (a copy kernel of its own): so the steps are two
        kernels with an operation code, not five and three copies. Each loop of a kernel runs only for
        the operations that use it: its extent is 0 for the others, so that a launch costs what its own
        operation does. ``small`` takes no ndarray arguments: it runs dozens of times an iteration, and
        each ndarray argument adds to a launch's cost (0.03 to 0.5 ms for three under load:
        benchmarks/startup_probes.py); ``exchange``
        runs once or a few times an iteration, where a ``from_numpy`` or ``to_numpy`` ran before."""
        pool, index, lo, hi = self.integrator.dev.pool, self.index, self.lower, self.upper
        base, best = self.base, self.best
        columns, residual, shown, shown_loss, at_base = self.columns, self.residual, self.shown, self.shown_loss, self.at_base
        image, loss = self.integrator.image, self.loss
        ref, scale, clamped, value = loss.reference, loss.scale, loss.clamped, loss.value
        normalise_units = unit_normaliser(pool, index, self.unit, self.n_unit)
        views, height, width = image.shape

        @ti.func
        def compared(v, y, x, factor):
            """The render times ``factor`` as the loss compares it (clamped to [0, 1] for a low-dynamic-range
            view)."""
            c = image[v, y, x] * factor
            if clamped[v]:
                c = ti.min(ti.max(c, 0.0), 1.0)
            return c

        @ti.kernel
        def small(op: ti.i32, e: ti.i32, j: ti.i32, h: ti.f32, weight: ti.f32, factor: ti.f32, first: ti.i32,
                  less_base: ti.i32):
            """KEEP: the render, its residual, θ and the loss kept (the history row's); SHOW: the kept
            render and loss back into the integrator's image and the loss. COLUMN: column j of estimate e
            = (its earlier part unless first) + (render * factor - e's render at θ if less_base) * weight;
            j = -1 keeps the render as e's render at θ instead. NUDGE: every free value back to θ,
            component j (-1: none) moved by h. PROJECT: the values onto the bounds, unit vectors
            normalised; PROJECT and ACCEPT: the values taken as the best."""
            for v, y, x in ti.ndrange(views if op <= COLUMN else 0, height, width):
                if op == KEEP:
                    shown[v, y, x] = image[v, y, x]
                    residual[v, y, x] = compared(v, y, x, 1.0) - ref[v, y, x]
                elif op == SHOW:
                    image[v, y, x] = shown[v, y, x]
                else:
                    c = compared(v, y, x, factor)
                    if j < 0:
                        at_base[e, v, y, x] = c
                    else:
                        before = ti.Vector([0.0, 0.0, 0.0])
                        if first == 0:
                            before = columns[e * k + j, v, y, x]
                        if less_base == 1:
                            c -= at_base[e, v, y, x]
                        columns[e * k + j, v, y, x] = before + c * weight
            for i in range(k if op == KEEP or op == NUDGE or op == PROJECT else 0):
                if op == KEEP:
                    base[i] = pool[index[i]]
                elif op == NUDGE:
                    pool[index[i]] = base[i]
                    if i == j:
                        pool[index[i]] = base[i] + h
                else:
                    pool[index[i]] = ti.min(ti.max(pool[index[i]], lo[i]), hi[i])
            for _ in range(1 if op == KEEP or op == SHOW or op == PROJECT else 0):
                if op == KEEP:
                    shown_loss[None] = value[None]
                elif op == SHOW:
                    value[None] = shown_loss[None]
                else:
                    normalise_units()
            for i in range(k if op == ACCEPT or op == PROJECT else 0):
                best[i] = pool[index[i]]

        @ti.kernel
        def exchange(op: ti.i32, ints: ti.types.ndarray(dtype=ti.i32, ndim=1),
                     floats: ti.types.ndarray(dtype=ti.f32, ndim=2), out: ti.types.ndarray(dtype=dtype, ndim=2)):
            """BOUNDS: the free components' pool offsets (``ints``) and bounds (``floats`` rows 0 and 1);
            APPLY: θ + δ (``floats`` row 0) on the bounds, unit vectors normalised; WRITE_BEST: the best
            values from ``floats`` row 0; READ_BEST: the best values into ``out`` column 0; EQUATIONS:
            [A | g | θ] into ``out``."""
            for i in range(k if op != EQUATIONS else 0):
                if op == BOUNDS:
                    index[i], lo[i], hi[i] = ints[i], floats[0, i], floats[1, i]
                elif op == APPLY:
                    pool[index[i]] = ti.min(ti.max(base[i] + floats[0, i], lo[i]), hi[i])
                elif op == WRITE_BEST:
                    best[i] = floats[0, i]
                else:
                    out[i, 0] = ti.cast(best[i], dtype)
            for _ in range(1 if op == APPLY else 0):
                normalise_units()
            # A = (J1ᵀ W J2 + J2ᵀ W J1) / 2 and g = ((J1 + J2) / 2)ᵀ W r: one sum per entry, serial in float64
            # (no atomics, a fixed order)
            for a, b in ti.ndrange(k if op == EQUATIONS else 0, k + 1):
                total = ti.cast(0.0, dtype)
                for v, y, x in ti.ndrange(views, height, width):
                    one, two = columns[a, v, y, x], columns[k + a, v, y, x]
                    term = 0.0
                    if b < k:
                        term = 0.5 * (one.dot(columns[k + b, v, y, x]) + two.dot(columns[b, v, y, x]))
                    else:
                        term = 0.5 * (one + two).dot(residual[v, y, x])
                    total += ti.cast(term, dtype) * ti.cast(scale[v], dtype)
                out[a, b] = total
            for a in range(k if op == EQUATIONS else 0):
                out[a, k + 1] = ti.cast(base[a], dtype)

        self._small_kernel, self._exchange_kernel = small, exchange

    def _exchange(self, op: int) -> None:
        self._exchange_kernel(op, self._ints, self._floats, self._out)

    def _keep(self) -> None:
        self._small_kernel(KEEP, 0, -1, 0.0, 0.0, 0.0, 0, 0)

    def _show(self) -> None:
        self._small_kernel(SHOW, 0, -1, 0.0, 0.0, 0.0, 0, 0)

    def _column(self, e: int, j: int, weight: float, factor: float, first: int, less_base: int) -> None:
        self._small_kernel(COLUMN, e, j, 0.0, weight, factor, first, less_base)

    def _nudge(self, j: int, h: float) -> None:  # j = -1: every value back to θ
        self._small_kernel(NUDGE, 0, j, h, 0.0, 0.0, 0, 0)

    def _apply(self, delta: np.ndarray) -> None:
        self._floats[0] = delta
        self._exchange(APPLY)

    def _accept(self) -> None:
        self._small_kernel(ACCEPT, 0, -1, 0.0, 0.0, 0.0, 0, 0)

    def _project(self) -> None:
        self._small_kernel(PROJECT, 0, -1, 0.0, 0.0, 0.0, 0, 0)

    def _equations(self) -> np.ndarray:
        """[A | g | θ] of the columns and the residual, k x (k + 2), float64 (the iteration's one read)."""
        self._exchange(EQUATIONS)
        return self._out.astype(np.float64)

    def best_values(self) -> np.ndarray:
        """The best values so far (float32, one device read)."""
        self._exchange(READ_BEST)
        return self._out[:, 0].astype(np.float32)

    # =============================================================================================
    # The fit's interface
    # =============================================================================================

    def restart(self, lower, upper, steps) -> None:
        """Start over (a new fit on the same fields): bounds and difference steps, first damping, no
        step taken, the current values projected and taken as the best so far."""
        big = np.float32(3e38)
        lower = np.ascontiguousarray(np.clip(np.asarray(lower, dtype=np.float32), -big, big))
        upper = np.ascontiguousarray(np.clip(np.asarray(upper, dtype=np.float32), -big, big))
        if lower.shape != (self.n,) or upper.shape != (self.n,):
            raise ValueError("lower and upper must hold one bound per free component")
        self._floats[0], self._floats[1] = lower, upper
        self._exchange(BOUNDS)
        self.steps = np.asarray(steps, dtype=np.float64).copy()
        if self.steps.shape != (self.n,) or not (np.isfinite(self.steps).all() and (self.steps > 0).all()):
            raise ValueError("steps must hold one finite positive difference step per free component")
        self.damping, self.growth = self.initial_damping, 2.0
        self.settled = 0  # iterations settling (0: still travelling)
        self.state = np.array([0, 0, -1, -1], dtype=np.int64)
        self.best_loss = 3e38
        self.project()

    def project(self) -> None:
        """Clamp the free values onto their bounds; they become the best values so far, with no loss yet."""
        self._project()

    def evaluate(self, seed: int) -> None:
        """Render with ``seed`` and compute the loss (``loss.value``): the iteration's residual."""
        self.integrator.forward(seed)
        self.loss.forward()

    def step(self, seed: int, iteration: int) -> None:
        """One Levenberg-Marquardt iteration from the render :meth:`evaluate` (``seed``) left (see the
        module's docstring). Afterwards the integrator's image and the loss are that render's again."""
        self._keep()
        seeds = [seed]  # with a primary cache, each of these passes on a set of its own (stream_seed)
        for estimate, stream in enumerate(JACOBIAN_STREAMS):
            seeds.append(stream_seed(self.integrator, seed, stream, seeds))
            self._jacobian(estimate, seeds[-1])
        m = self._equations()  # the one read of the iteration's sums
        trial_seed = stream_seed(self.integrator, seed, TRIAL_STREAM, seeds)
        self._restore()
        a, g = tangent(m[:, : self.n], m[:, self.n], m[:, self.n + 1], self.unit_starts)
        if not (self.settled and self._settle(a, g, iteration)):
            before = self._trial_loss(trial_seed)
            if not (np.isfinite(m).all() and math.isfinite(before)):
                self._rollback(iteration)
            else:
                self._search(a, g, before, trial_seed, iteration)
        self._show()

    def _restore(self) -> None:
        """Every free value back to θ (``base``)."""
        self._nudge(-1, 0.0)

    def _jacobian(self, estimate: int, seed: int) -> None:
        """Every column of one estimate (0 or 1) by a difference on :attr:`samples` samples per pixel of
        ``seed``: central, or forward (from one render at θ) for the components the image is linear in.
        The pool is left nudged."""
        integ, samples = self.integrator, self.samples
        factor = integ.spp / samples
        if self.linear.any():
            self._restore()
            integ.forward_samples(seed, samples)
            self._column(estimate, -1, 0.0, factor, 1, 0)
        for j, h in enumerate(self.steps):
            if self.linear[j]:
                self._nudge(j, h)
                integ.forward_samples(seed, samples)
                self._column(estimate, j, 1.0 / h, factor, 1, 1)
                continue
            for sign in (1.0, -1.0):
                self._nudge(j, sign * h)
                integ.forward_samples(seed, samples)
                self._column(estimate, j, sign * 0.5 / h, factor, 1 if sign > 0 else 0, 0)

    def _trial_loss(self, seed: int) -> float:
        """The loss of the pool's current values on the samples of ``seed`` (one read)."""
        self.evaluate(seed)
        return self.loss.read()

    def _search(self, a: np.ndarray, g: np.ndarray, before: float, seed: int, iteration: int) -> None:
        """Trial steps with growing damping until one lowers the loss on the samples ``seed``."""
        first = None
        for _ in range(TRIES):
            delta = solve(a, g, self.damping)
            if delta is None:
                self._rollback(iteration)
                return
            first = delta if first is None else first
            self._apply(delta)
            after = self._trial_loss(seed)
            predicted = gain(a, g, delta)
            if math.isfinite(after) and after < before:
                rho = (before - after) / predicted if predicted > 0 else 1.0
                self.damping = max(self.damping * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), DAMPING_RANGE[0])
                self.growth = 2.0
                self._accept()
                self.state[self.STEPS] += 1
                self.state[self.BEST_ITERATION] = iteration
                self.best_loss = after
                return
            self.damping = min(max(self.damping, DAMPING_RANGE[0]) * self.growth, DAMPING_RANGE[1])
            self.growth *= 2.0
            self._restore()
        if first is not None and self._small(first):
            self.settled = 1  # no trial lowered the loss, and the steps are small: the noise floor

    def _small(self, delta: np.ndarray) -> bool:
        """Whether every component of the step is under :data:`SETTLE_STEP` of its parameter's scale."""
        return bool(np.max(np.abs(delta) * STEP / self.steps) < SETTLE_STEP)

    def _settle(self, a: np.ndarray, g: np.ndarray, iteration: int) -> bool:
        """At the noise floor: move ``1 / (c + 1)`` of the way to this iteration's Gauss-Newton target
        (``c`` iterations settling so far), so that the values become the running mean of the targets,
        whose noise falls as ``1 / sqrt(c)``; no trials (they cannot tell noise from progress here).

        A target that is not small (:data:`SETTLE_STEP`; a badly conditioned or unlucky estimate, or a
        fit that has to travel again) is not averaged in: the fit stops settling and this iteration
        searches with trials instead (returns False)."""
        delta = solve(a, g, min(self.damping, self.initial_damping)) if np.isfinite(a).all() and np.isfinite(g).all() else None
        if delta is None or not self._small(delta):
            self.settled = 0
            return False
        self.settled += 1
        self._apply(delta / self.settled)
        self._accept()
        self.state[self.STEPS] += 1
        self.state[self.BEST_ITERATION] = iteration
        return True

    def _rollback(self, iteration: int) -> None:
        """A non-finite sum or loss: keep the values, damp harder."""
        self._restore()
        self.damping = min(max(self.damping, 1e-3) * 10.0, DAMPING_RANGE[1])
        self.state[self.HALVINGS] += 1
        self.state[self.LAST_ROLLBACK] = iteration

    def read_state(self) -> dict:
        """The state as Adam's guard reports it: steps (accepted), halvings (rollbacks), best_iteration
        (of the last accepted step), last_rollback, best_loss (its trial loss), and damping."""
        return {
            "steps": int(self.state[self.STEPS]),
            "halvings": int(self.state[self.HALVINGS]),
            "best_iteration": int(self.state[self.BEST_ITERATION]),
            "last_rollback": int(self.state[self.LAST_ROLLBACK]),
            "best_loss": float(self.best_loss),
            "damping": float(self.damping),
            "settled": int(self.settled),
        }

    # --- checkpoints ----------------------------------------------------------------------------------

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to continue exactly where this optimiser is (host copies)."""
        return {
            "lm_best": self.best_values(),
            "lm_best_loss": np.array(self.best_loss, dtype=np.float64),
            "lm_state": self.state.astype(np.int32),
            "lm_damping": np.array([self.damping, self.growth, self.settled], dtype=np.float64),
        }

    def state_shapes(self) -> dict[str, tuple]:
        """The shape of each of :meth:`state_arrays`' arrays."""
        return {"lm_best": (self.n,), "lm_best_loss": (), "lm_state": (4,), "lm_damping": (3,)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` returned."""
        self._floats[0] = np.asarray(arrays["lm_best"], dtype=np.float32)
        self._exchange(WRITE_BEST)
        self.best_loss = float(np.asarray(arrays["lm_best_loss"]).ravel()[0])
        self.state = np.asarray(arrays["lm_state"], dtype=np.int64).copy()
        damping, growth, settled = np.asarray(arrays["lm_damping"], dtype=np.float64)
        self.damping, self.growth, self.settled = float(damping), float(growth), int(settled)


def tangent(a: np.ndarray, g: np.ndarray, values: np.ndarray, units) -> tuple[np.ndarray, np.ndarray]:
    """The system ``a δ = -g`` with every free unit vector's radial direction taken out (its length is
    not a degree of freedom: the step normalises it): ``P a P + s u uᵀ`` and ``P g`` with ``P = 1 - u uᵀ``
    per unit vector ``u`` (components ``i .. i + 2`` of ``values`` for each ``i`` in ``units``), ``s`` the
    largest diagonal entry, so that the solution has no radial part."""
    if not units:
        return a, g
    project = np.eye(len(g))
    radial = np.zeros_like(a)
    for i in units:
        u = values[i : i + 3] / max(np.linalg.norm(values[i : i + 3]), 1e-30)
        project[i : i + 3, i : i + 3] -= np.outer(u, u)
        radial[i : i + 3, i : i + 3] = np.outer(u, u)
    a = project @ a @ project
    return a + max(float(np.max(np.abs(np.diag(a)))), 1e-30) * radial, project @ g


def gain(a: np.ndarray, g: np.ndarray, delta: np.ndarray) -> float:
    """The fall of the loss that the quadratic model predicts for the step ``delta``."""
    return float(-(2.0 * g @ delta + delta @ a @ delta))


def solve(a: np.ndarray, g: np.ndarray, damping: float) -> np.ndarray | None:
    """The damped Gauss-Newton step ``δ`` of ``(a + damping D) δ = -g``, ``D`` the diagonal of ``a``, or
    None if it is not finite.

    ``a`` is estimated from two independent Jacobians, so noise can leave it slightly indefinite: its
    eigenvalues are clipped to at least 1e-9 of the largest first (a component the image does not depend
    on gets that tiny curvature), which keeps ``δ`` a descent direction."""
    a = 0.5 * (a + a.T)
    try:
        eigenvalues, vectors = np.linalg.eigh(a)
    except np.linalg.LinAlgError:
        return None
    top = max(float(np.max(np.abs(eigenvalues))), 1e-30)
    a = (vectors * np.maximum(eigenvalues, 1e-9 * top)) @ vectors.T
    diagonal = np.diag(a).copy()
    system = a + damping * np.diag(diagonal)
    try:
        delta = np.linalg.solve(system, -g)
    except np.linalg.LinAlgError:
        delta = np.linalg.lstsq(system, -g, rcond=None)[0]
    return delta if np.isfinite(delta).all() else None
