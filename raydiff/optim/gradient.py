"""The one place that computes the gradient of the image loss: render, loss, and the backward passes.

One call with seed ``s``::

    integrator.forward(s) -> loss.forward() -> loss.backward()      (d loss / d image into image.grad)
    -> integrator.backward(g)                                       (the shading term, into pool.grad)
    -> boundary.backward(b)                                         (the boundary terms, if any)

**Independent samples for the gradient (decorrelation).** The gradient of the L2 loss is
``2 (I - R) dI/dtheta`` summed over pixels. Estimating both factors from the *same* samples makes the
expectation ``2 (E[I] - R) E[dI] + 2 Cov(I, dI)``: the covariance is a bias of order 1/spp (it is the
derivative of the estimator's variance, which the loss of a noisy image contains). Mitsuba 3 refuses equal
seeds for this reason and redner documents the bias. With ``decorrelate`` (the default), the backward pass
uses the samples of another seed, ``g = derive_seed(s, GRADIENT_STREAM)``, independent of the forward
pass's: the estimate is then unbiased for the gradient of the loss of the expected image. It costs one
visibility pass over every sample (the backward pass traces its own samples). Without it ``g = s``, the
behaviour before decorrelation: the forward pass's records are reused.

The boundary terms (:mod:`raydiff.kernels.boundary`) sample edges with a third seed,
``b = derive_seed(s, BOUNDARY_STREAM)``, whatever ``decorrelate`` says.

**With a primary cache** (:mod:`raydiff.kernels.primary`) a pass with seed ``s`` uses the samples of
the cache's set ``s mod K``, so two seeds are independent only if their sets differ: :func:`stream_seed`
moves a stream's seed to the next set that none of the given seeds uses (the gradient's from the
forward pass's), and is :func:`derive_seed` itself without a cache. The sets' own seeds are streams
:data:`PRIMARY_STREAM` + k of the fit's seed (:func:`primary_seeds`); a rolling cache gives the set
an iteration's forward pass reads a seed of its own once its samples are a few iterations old (:func:`refresh_due`,
:func:`refresh_seed`), and :func:`primary_sets_before` says what every set holds when a given iteration
starts.

**Seeds.** :func:`derive_seed` is a host-side copy of the sample hash of :mod:`raydiff.kernels.sampling`
(Chris Wellons' "lowbias32", a bijection of 32-bit integers with full avalanche) applied to the seed
mixed with the stream number: distinct streams of one seed, and the same stream of distinct seeds, give
unrelated seeds, and the fit's per-iteration seeds (:func:`raydiff.optim.fit.iteration_seed`) never make
one iteration's gradient seed another's forward seed except by a 2^-32 coincidence.
"""

from __future__ import annotations

from typing import Callable, Protocol

_MASK = 0xFFFFFFFF
GRADIENT_STREAM = 1  # the shading gradient's samples (with decorrelation)
BOUNDARY_STREAM = 2  # the boundary terms' samples
PRIMARY_STREAM = 64  # set k of a primary cache has the samples of stream PRIMARY_STREAM + k of the fit's seed
REFRESH_STREAM = 6  # a rolling cache's set refreshed at iteration i: stream i + 1 of this stream of the fit's seed


def hash_u32(x: int) -> int:
    """The 32-bit hash of :func:`raydiff.kernels.sampling.hash_u32` ("lowbias32"), on the host."""
    x &= _MASK
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK
    x ^= x >> 16
    return x


def derive_seed(seed: int, stream: int) -> int:
    """A 32-bit seed for sample stream ``stream`` (>= 1) of the seed ``seed``, unrelated to ``seed``
    itself and to every other stream's: ``hash(hash(seed) ^ hash(stream * golden ratio))``."""
    return hash_u32(hash_u32(int(seed)) ^ hash_u32((int(stream) * 0x9E3779B9) & _MASK))


def primary_seeds(seed: int, sets: int) -> list[int]:
    """The sample seeds of a primary cache's ``sets`` sets for a fit with seed ``seed`` (none for 0)."""
    return [derive_seed(seed, PRIMARY_STREAM + k) for k in range(int(sets))]


def refresh_due(refresh: int, iteration: int, traced: int) -> bool:
    """Whether a rolling primary cache re-traces, at the start of ``iteration``, the set the iteration's
    forward pass (Levenberg-Marquardt's residual) reads, whose samples were traced at iteration
    ``traced`` (0: the fit's first sets): once they are ``refresh`` iterations old (never for ``refresh``
    0: fixed sets). So no loss is measured on samples older than ``refresh`` iterations; with 1, every
    iteration's forward pass has fresh samples and only the gradient's (the Jacobians', the trials') are
    sets of earlier iterations (:mod:`raydiff.kernels.primary`: why that keeps the plain path's fixed
    point). Each pass reads its set ``seed mod K`` and an iteration's seed steps through the remainders,
    so with ``refresh`` up to ``K`` every forward pass but the first is refreshed, with ``refresh`` of
    ``r K`` about one in ``r``."""
    return refresh > 0 and iteration - traced >= refresh


def refresh_seed(seed: int, iteration: int) -> int:
    """The sample seed of the set a rolling cache refreshes at ``iteration`` of a fit with seed ``seed``:
    stream ``iteration + 1`` of stream :data:`REFRESH_STREAM` of the fit's seed (unrelated to the sets'
    first seeds, to every pass's seed and to every other refresh's)."""
    return derive_seed(derive_seed(seed, REFRESH_STREAM), int(iteration) + 1)


def primary_sets_before(seed: int, sets: int, refresh: int, iteration: int,
                        set_at: Callable[[int], int]) -> tuple[list[int], list[int]]:
    """A rolling cache's sets when ``iteration`` starts (before its own refresh): each set's sample seed
    and the iteration it was traced at, from :func:`primary_seeds` (traced at 0) through every refresh
    before ``iteration`` (:func:`refresh_due`, :func:`refresh_seed`), where ``set_at(j)`` is the set
    iteration ``j``'s forward pass reads. What a fit resumed at ``iteration`` fills its cache with, so
    that it goes on as the uninterrupted fit did (the refreshes are replayed on the host: a few
    microseconds an iteration)."""
    seeds, traced = primary_seeds(seed, sets), [0] * int(sets)
    for j in range(1, int(iteration)) if refresh > 0 else ():
        k = set_at(j)
        if refresh_due(refresh, j, traced[k]):
            seeds[k], traced[k] = refresh_seed(seed, j), j
    return seeds, traced


def stream_seed(integrator, seed: int, stream: int, avoid=()) -> int:
    """``derive_seed(seed, stream)``; with the integrator's primary cache, that seed moved to the first set
    (counting up from its own, modulo the sets) that none of the seeds in ``avoid`` uses, so that its
    samples are independent of theirs (the sets must outnumber ``avoid``)."""
    derived = derive_seed(seed, stream)
    cache = getattr(integrator, "primary", None)
    if cache is None:
        return derived
    taken = {cache.set_of(other) for other in avoid}
    if len(taken) >= cache.sets:
        raise ValueError(f"a primary cache of {cache.sets} sets cannot keep {len(taken) + 1} passes independent")
    k = cache.set_of(derived)
    step = next(d for d in range(cache.sets) if (k + d) % cache.sets not in taken)
    moved = derived - k + (k + step) % cache.sets  # the same multiple of K, another remainder
    return moved if moved <= _MASK else moved - cache.sets


class Boundary(Protocol):
    """What :class:`LossGradient` needs of the boundary terms: ``backward(seed)`` *adds* their
    contribution to ``d loss / d pool`` into the pool's ``grad``, reading ``d loss / d image`` from the
    integrator's ``image.grad`` (the forward pass's image, which is still there)."""

    def backward(self, seed: int) -> None: ...


class LossGradient:
    """``d loss / d pool`` of one sample seed: the forward pass, the loss, and every backward pass.

    Parameters
    ----------
    integrator : raydiff.kernels.integrator.Integrator
    loss : raydiff.optim.loss.ImageLoss
        The loss of ``integrator.image``.
    decorrelate : bool
        Trace independent samples for the shading gradient (see the module's docstring); False reuses
        the forward pass's.
    boundary : Boundary, optional
        The boundary terms, or None for none.

    After a call, ``dev.pool.grad`` holds the gradient (it is cleared first), the loss's ``value`` the
    loss and ``integrator.image`` the forward pass's render.
    """

    def __init__(self, integrator, loss, *, decorrelate: bool = True, boundary: Boundary | None = None):
        self.integrator, self.loss = integrator, loss
        self.decorrelate = bool(decorrelate)
        self.boundary = boundary

    def seeds(self, seed: int) -> tuple[int, int, int]:
        """``(forward, gradient, boundary)`` sample seeds of the call with ``seed``."""
        seed = int(seed) & _MASK
        gradient = stream_seed(self.integrator, seed, GRADIENT_STREAM, (seed,)) if self.decorrelate else seed
        return seed, gradient, derive_seed(seed, BOUNDARY_STREAM)

    def __call__(self, seed: int) -> None:
        forward, gradient, boundary = self.seeds(seed)
        integ = self.integrator
        integ.zero_grad()
        integ.forward(forward)
        self.loss.forward()
        self.loss.backward()
        integ.backward(gradient)
        if self.boundary is not None:
            self.boundary.backward(boundary)
