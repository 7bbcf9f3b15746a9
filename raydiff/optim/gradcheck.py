"""Is the gradient right? Automatic differentiation against central finite differences, per parameter.

For every free parameter (the scene's ``optimize`` entries, or the paths given), :func:`gradcheck`
computes the gradient of the image loss two ways on the current backend:

* **ad**: what a fit uses, :class:`raydiff.optim.gradient.LossGradient` (the forward pass with
  ``seed``, the shading gradient, with independent samples unless ``decorrelate=False``, and the
  boundary terms when there are any);
* **fd**: the central difference ``D(h) = (L(x + h) - L(x - h)) / 2h`` of every component, each side
  rendered with the *same* seed, the forward pass's (common random numbers: both sides trace the same
  camera rays, so the noise cancels and what is left is how the picture changes, visibility included),
  Richardson-extrapolated: ``(4 D(h) - D(2h)) / 3``, which cancels the O(h^2) error of the plain
  difference (1% on a light 1 m above a quad at the default step; 0.007% extrapolated). The
  loss is computed on the host in float64 from the rendered image: the two sides differ by about
  ``h * gradient``, often 1e-4 of the loss or less, and the device's loss, one float32 sum over every
  pixel added by threads in any order, is good to about 1e-6 of its value at best, which would be an
  error of 1% or more in such a difference.

The verdict per parameter is the relative L2 error over its components, ``|ad - fd| / |fd|`` (0 when
both vanish, infinite when only ``fd`` does), against ``tol``.

**What agreement means.** The finite difference is exact for the estimator at one seed; the
automatic gradient with ``decorrelate`` uses other samples for the gradient, so the two agree in
expectation only, within the Monte Carlo noise of the gradient, which falls as 1/sqrt(spp). The check
renders at ``spp`` (default :data:`DEFAULT_SPP`, 64, or :data:`EDGE_SPP`, 1024, when a checked parameter
can move an edge; or the film's if higher), where that noise, for the shading gradient, is below 0.1% on
the parameters of the example scenes, except a mesh's rotation axis
(about 1%): ``python benchmarks/decorrelation.py --gradient-noise`` measures it. Both estimate the
gradient of the loss of the *expected* image up to an O(1/spp) term: the finite difference with one
seed differentiates the loss of a noisy image, whose variance changes with the parameters too. With
``decorrelate=False`` the automatic gradient differentiates exactly the finite difference's estimator,
and what differs is only the visibility changes that the boundary terms must supply (and the finite
difference's own error).

**Steps.** ``h`` defaults to one default learning-rate step of the parameter's kind
(:func:`raydiff.scene.parameters.default_lr`): 0.5% of the scene's size for a light's position, 0.3%
for a sphere's centre, 5% of the value for an intensity, 1% for a radius, 0.02 for an albedo, 0.5
degrees for a mesh's rotation angle, 0.2 degrees for a field of view, 0.01 per component for a unit
direction (which the kernels normalise). With the extrapolation the step's own error is negligible
where the loss is smooth in the parameter.

It is not smooth at the scale of a pixel where the parameter moves an outline or a shadow edge: as an
edge sweeps across a pixel, the pixel's value, and so its part of the loss's slope, changes at the
moments the edge enters and leaves it. A difference over a step of a pixel or more averages the slope
over those moments (on a sphere's outline against a nudged reference, 5-12% away from the slope at the
point, for any spp; the extrapolation does not cancel it). So for a component that moves edges, the
step is shortened until the edges that matter to the loss (the edge samples with a weight) move at most
:data:`EDGE_STEP_PX` (0.1) pixel on the film (:meth:`raydiff.kernels.boundary.Boundary.film_speeds`,
the 99th percentile of their film speeds), and the check renders at :data:`EDGE_SPP` (1024) samples
per pixel, so that in so short a step an edge still crosses enough samples (about a hundred per pixel
of edge) for its difference not to be noise. The boundary pass of the check spreads the most samples
one pass allows over the curves (``precise``): a check wants the expected gradient, a fit only an
unbiased one. ``eps`` (``--eps``) overrides every step, and ``spp`` the samples.

**The reference.** Without references, one is rendered per camera from the scene with every checked
parameter nudged (:func:`nudged_values`), at ``4 * spp`` with another seed, and compared in linear RGB
without clamping. The nudge is deterministic: +2% of the scene's size on every component of a position
(lengths that scale with the scene), +10% of the value for sizes and brightness, and six default steps
for the rest (an albedo 0.12 towards the middle of [0, 1], an angle 3 degrees, a field of view 1.2
degrees; a unit direction turned by about 3.4 degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .. import backend
from ..device.scene import DeviceScene
from ..errors import Location, SceneError
from ..io.images import Reference
from ..kernels.boundary import MOVING_GROUPS, make_boundary
from ..kernels.integrator import Integrator
from ..kernels.render import render_views
from ..scene.model import FreeParameter, Scene
from ..scene.parameters import Kind, Resolved, default_lr, resolve, scene_size, with_values
from .fit import as_references
from .gradient import LossGradient, derive_seed
from .loss import LOSSES, ImageLoss

#: Samples per pixel of a check unless asked otherwise (at least the film's).
DEFAULT_SPP = 64
#: ... where a checked parameter moves outlines or shadow edges: the steps are then a fraction of a pixel
#: (:data:`EDGE_STEP_PX`), and a finite difference counts the samples an edge crosses in that step.
EDGE_SPP = 1024
#: The largest film distance, in pixels, that an edge which matters to the loss moves in one step.
EDGE_STEP_PX = 0.1
#: ... but a step is never shortened below this fraction of its kind's default (float32 would round it away).
MIN_STEP_FRACTION = 1e-3
#: The tolerance on the relative L2 error per parameter.
DEFAULT_TOL = 0.02
REFERENCE_STREAM = 3  # the seed stream of a rendered reference (see raydiff.optim.gradient.derive_seed)
NUDGE_SCENE = 0.02  # positions: this fraction of the scene's size, per component
NUDGE_VALUE = 0.10  # sizes and brightness: this fraction of the value
NUDGE_STEPS = 6.0  # everything else: this many default learning-rate steps


@dataclass
class ParameterCheck:
    """One parameter's check.

    Attributes
    ----------
    path : str
        The dotted path.
    ad, fd : np.ndarray
        The gradient by automatic differentiation and by central differences, float64, one per component.
    eps : np.ndarray
        The finite-difference step of every component.
    rel_error : float
        ``|ad - fd| / |fd|`` over the components (0 when both are 0, inf when only fd is).
    ok : bool
        ``rel_error <= tol``.
    """

    path: str
    ad: np.ndarray
    fd: np.ndarray
    eps: np.ndarray
    rel_error: float
    ok: bool


@dataclass
class GradcheckResult:
    """The outcome of :func:`gradcheck`.

    Attributes
    ----------
    params : dict
        :class:`ParameterCheck` per dotted path, in the order checked.
    ok : bool
        Every parameter within ``tol``.
    tol, spp, seed, decorrelate, loss
        The settings used.
    boundary : bool
        Whether boundary terms took part (asked for *and* available).
    loss_value : float
        The loss at the scene's values (host, float64).
    references : list of str
        Where each reference came from (a file, or ``"<rendered>"``).
    nudge : dict, optional
        When the references were rendered: the values they were rendered with, by path.
    backend : str
    """

    params: dict[str, ParameterCheck]
    tol: float
    spp: int
    seed: int
    decorrelate: bool
    boundary: bool
    loss: str
    loss_value: float
    references: list[str]
    nudge: dict[str, np.ndarray] | None = None
    backend: str = ""

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.params.values())

    @property
    def failed(self) -> list[str]:
        """The paths whose error exceeds the tolerance."""
        return [path for path, check in self.params.items() if not check.ok]

    def to_json(self) -> dict:
        """A JSON-ready dict: ``{"params": {path: {"ad": [...], "fd": [...], "rel_error": x, ...}}, ...}``
        (an infinite error is ``null``)."""

        def floats(values):
            return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]

        return {
            "params": {
                path: {"ad": floats(c.ad), "fd": floats(c.fd),
                       "rel_error": c.rel_error if math.isfinite(c.rel_error) else None,
                       "eps": floats(c.eps), "ok": c.ok}
                for path, c in self.params.items()
            },
            "ok": self.ok,
            "tol": self.tol,
            "spp": self.spp,
            "seed": self.seed,
            "decorrelate": self.decorrelate,
            "boundary": self.boundary,
            "loss": self.loss,
            "loss_value": self.loss_value,
            "references": list(self.references),
            "nudge": None if self.nudge is None else {p: floats(v) for p, v in self.nudge.items()},
            "backend": self.backend,
        }


# =================================================================================================
# Steps and nudges, per kind
# =================================================================================================


def default_eps(kind: Kind, start: np.ndarray, size: float) -> float:
    """The finite-difference step of a parameter: one default learning-rate step of its kind (see the
    module's docstring)."""
    return float(default_lr(kind, np.asarray(start, dtype=np.float64), size))


def _perpendicular(v: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to ``v`` (fixed: the cross product with the axis ``v`` is least
    aligned with)."""
    axis = np.zeros(3)
    axis[int(np.argmin(np.abs(v)))] = 1.0
    p = np.cross(v, axis)
    return p / max(np.linalg.norm(p), 1e-30)


def nudge(kind: Kind, start: np.ndarray, size: float) -> np.ndarray:
    """The value a rendered reference gives the parameter (see the module's docstring)."""
    start = np.asarray(start, dtype=np.float64)
    if kind.unit:
        n = start / max(np.linalg.norm(start), 1e-30)
        turned = n + NUDGE_STEPS * kind.lr * _perpendicular(n)
        return turned / np.linalg.norm(turned) * np.linalg.norm(start)
    if kind.lr_scale == "scene":
        return start + NUDGE_SCENE * size
    if kind.lr_scale == "value":
        return start * (1.0 + NUDGE_VALUE)
    step = NUDGE_STEPS * kind.lr
    if not (math.isfinite(kind.lower) and math.isfinite(kind.upper)):
        return start + step
    return np.where(start > 0.5 * (kind.lower + kind.upper), start - step, start + step)  # towards the inside


def nudged_values(free: list[Resolved], size: float) -> dict[str, np.ndarray]:
    """The nudged value of every parameter of ``free``, by path."""
    return {r.path: nudge(r.kind, r.start, size) for r in free}


# =================================================================================================
# The check
# =================================================================================================


def host_loss(images, references: list[Reference], kind: str, weights) -> float:
    """The image loss of :class:`raydiff.optim.loss.ImageLoss` on the host, in float64: per view, weight
    times the mean over pixels and channels of the squared (or absolute) difference, the render clamped
    to [0, 1] against a low-dynamic-range reference."""
    total = 0.0
    for image, ref, weight in zip(images, references, weights):
        c = np.asarray(image, dtype=np.float64)
        if ref.low_dynamic_range:
            c = np.clip(c, 0.0, 1.0)
        diff = c - np.asarray(ref.linear, dtype=np.float64)
        per_pixel = diff * diff if kind == "mse" else np.abs(diff)
        total += float(weight) * float(per_pixel.mean())
    return total


def _free_parameters(scene: Scene, params) -> tuple[Scene, list[Resolved]]:
    """The scene with ``optimize`` naming exactly the parameters to check, and their resolution."""
    if params:
        paths = list(dict.fromkeys(str(p) for p in params))
        entries = tuple(FreeParameter(p) for p in paths)
        located = [Location(scene.source, f"--param {p}") for p in paths]
    else:
        entries = tuple(scene.optimize)
        located = [Location(scene.source, f"optimize.{e.path}") for e in entries]
    if not entries:
        raise SceneError(Location(scene.source, "optimize"),
                         "nothing to check: name parameters with --param, or free some under 'optimize'")
    size = scene_size(scene)
    free = [resolve(scene, entry, where, size=size) for entry, where in zip(entries, located)]
    return replace(scene, optimize=entries), free


def check_params(scene: Scene, params=None) -> list[str]:
    """The paths :func:`gradcheck` would check (``params``, or the scene's ``optimize`` entries), checked
    against the scene without touching the device.

    Raises
    ------
    SceneError
        As :func:`gradcheck`.
    """
    return [r.path for r in _free_parameters(scene, params)[1]]


def _boundary_for(boundary, integrator):
    """The boundary terms to use: ``boundary`` itself (an object with ``backward``), what a factory
    returns for ``integrator`` (a callable), the scene's own (True: :func:`make_boundary`, as a fit
    makes them but with as many edge samples as one pass allows: a check wants the gradient's expected
    value), or none (False, None)."""
    if boundary is None or boundary is False:
        return None
    if hasattr(boundary, "backward"):
        return boundary
    if callable(boundary):
        return boundary(integrator)
    return make_boundary(integrator, precise=True)  # None where nothing free moves an edge


def gradcheck(
    scene: Scene,
    references=None,
    params=None,
    spp: int | None = None,
    eps: float | None = None,
    tol: float = DEFAULT_TOL,
    seed: int = 0,
    boundary: bool | object | Callable = True,
    decorrelate: bool = True,
    loss: str = "mse",
    reference_spp: int | None = None,
    extrapolate: bool = True,
) -> GradcheckResult:
    """Check the gradient of the image loss against central finite differences (see the module's
    docstring).

    Parameters
    ----------
    scene : Scene
    references : Reference or sequence of Reference, optional
        One per camera, the film's size. None renders them from the scene with the parameters nudged.
    params : sequence of str, optional
        Dotted paths to check; default: the scene's ``optimize`` entries.
    spp : int, optional
        Samples per pixel; default ``max(DEFAULT_SPP, film.spp)``.
    eps : float, optional
        One finite-difference step for every component; default per kind (:func:`default_eps`).
    tol : float
        The largest relative L2 error a parameter may have.
    seed : int
        The forward pass's seed (and both sides' of every finite difference).
    boundary : bool, object or callable
        True: the scene's boundary terms, where the renderer has them; False: none; an object with
        ``backward(seed)``: those; a callable: ``boundary(integrator)`` makes them.
    decorrelate : bool
        As :class:`raydiff.optim.fit.FitSettings`: independent samples for the gradient.
    loss : {"mse", "l1"}
    reference_spp : int, optional
        Samples per pixel of rendered references; default ``4 * spp``.
    extrapolate : bool
        Richardson-extrapolate the central differences with steps h and 2h (four renders per component,
        error O(h^4)); False: the plain central difference with step h (two renders, error O(h^2)).

    Returns
    -------
    GradcheckResult

    Raises
    ------
    SceneError
        For a path that names no parameter (or one that cannot be freed), or nothing to check.
    ValueError
        For a wrong number of references, a reference of the wrong size, or bad settings.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss '{loss}'; choose one of {', '.join(LOSSES)}")
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite positive number, got {tol}")
    if eps is not None and not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a finite positive number, got {eps}")
    checked, free = _free_parameters(scene, params)
    moves_edges = any(r.kind.device_group in MOVING_GROUPS for r in free)
    if spp is None:
        spp = max(EDGE_SPP if moves_edges else DEFAULT_SPP, int(scene.film.spp))
    spp = int(spp)
    if spp < 1:
        raise ValueError("spp must be at least 1")
    current = backend.current()
    size = scene_size(scene)

    nudge_values = None
    if references is None:
        nudge_values = nudged_values(free, size)
        images = render_views(with_values(checked, nudge_values), spp=reference_spp or 4 * spp,
                              seed=derive_seed(seed, REFERENCE_STREAM))
        refs = [Reference("<rendered>", np.asarray(image, dtype=np.float32), False) for image in images]
    else:
        refs = as_references(scene, references)
        for ref, camera in zip(refs, scene.cameras):
            if (ref.width, ref.height) != (scene.film.width, scene.film.height):
                raise ValueError(f"{ref.path}: image is {ref.width}x{ref.height} but the scene's film is "
                                 f"{scene.film.width}x{scene.film.height} (camera {camera.name})")
    weights = [c.weight for c in scene.cameras]

    dev = DeviceScene(checked, free)
    integrator = Integrator(dev, spp=spp)
    image_loss = ImageLoss(integrator.image, [r.linear for r in refs], loss,
                           clamp=[r.low_dynamic_range for r in refs], weights=weights)
    terms = _boundary_for(boundary, integrator)
    probe = terms if hasattr(terms, "film_speeds") else None  # what tells how fast the edges move
    if probe is None and moves_edges and eps is None:
        probe = make_boundary(integrator, precise=True)

    # --- ad ---------------------------------------------------------------------------------------
    LossGradient(integrator, image_loss, decorrelate=decorrelate, boundary=terms)(seed)
    gradient = dev.pool.grad.to_numpy().astype(np.float64)
    loss_value = host_loss(integrator.views_numpy(), refs, loss, weights)
    if probe is not None and probe is not terms:
        probe.sample(derive_seed(seed, 2))  # its weights, from the loss gradient LossGradient left

    # --- fd ---------------------------------------------------------------------------------------
    start = dev.pool_values().astype(np.float64)

    def loss_at(pool: np.ndarray) -> float:
        dev.set_pool(pool.astype(np.float32))
        integrator.forward(seed)
        return host_loss(integrator.views_numpy(), refs, loss, weights)

    def central(k: int, h: float) -> float:
        plus, minus = start.copy(), start.copy()
        plus[k] += h
        minus[k] -= h
        step = float(np.float32(plus[k])) - float(np.float32(minus[k]))  # the step the float32 pool takes
        return (loss_at(plus) - loss_at(minus)) / step

    checks = {}
    try:
        for r in free:
            offsets = dev.offsets(r.path)
            h = np.full(r.kind.size, eps if eps is not None else default_eps(r.kind, r.start, size))
            if eps is None and probe is not None and r.kind.device_group in MOVING_GROUPS:
                speeds = probe.film_speeds(offsets, 0.1 * h)  # pixels per unit, of the edges that matter
                short = np.minimum(h, EDGE_STEP_PX / np.maximum(speeds, 1e-30))
                h = np.where(speeds > 0, np.maximum(short, MIN_STEP_FRACTION * h), h)
            fd = np.empty(r.kind.size)
            for c, k in enumerate(offsets):
                near, far = central(k, h[c]), central(k, 2.0 * h[c]) if extrapolate else None
                fd[c] = near if far is None else (4.0 * near - far) / 3.0  # Richardson: the h^2 term cancels
            ad = gradient[offsets]
            norm_fd, norm_diff = float(np.linalg.norm(fd)), float(np.linalg.norm(ad - fd))
            if norm_fd > 0:
                rel = norm_diff / norm_fd
            else:
                rel = 0.0 if norm_diff == 0 else math.inf
            checks[r.path] = ParameterCheck(r.path, ad, fd, h, rel, rel <= tol)
    finally:
        dev.set_pool(start.astype(np.float32))

    return GradcheckResult(
        params=checks, tol=float(tol), spp=spp, seed=int(seed), decorrelate=bool(decorrelate),
        boundary=terms is not None, loss=loss, loss_value=loss_value, references=[r.path for r in refs],
        nudge=nudge_values, backend=current.name,
    )
