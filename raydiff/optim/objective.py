"""The renderer as a differentiable function: the image loss and its gradient for a dict of scene values.

A script that chains raydiff with its own differentiable model (a simulator whose output is the scene's
parameters, a network, a parametrisation of its own) needs the vector-Jacobian product of the renderer:
given values of some scene parameters, the loss against reference images and ``d loss / d value`` for
each of them. :class:`Objective` is that, for one set of values (all the scene's views together) or for a
sequence of frames (one set of values and one reference per frame, the loss summed over frames)::

    obj = raydiff.Objective(scene, references, free=["objects.bob.center"], spp=4, seed=0)
    loss, grads = obj.value_and_grad({"objects.bob.center": [x, y, z]})       # grads: {path: ndarray}
    losses, grads = obj.frames({"objects.bob.center": centres}, frame_refs)    # centres: (frames, 3)

The device objects (:class:`~raydiff.device.scene.DeviceScene` with the free parameters,
:class:`~raydiff.kernels.integrator.Integrator`, :class:`~raydiff.optim.loss.ImageLoss`, the boundary
terms and :class:`~raydiff.optim.gradient.LossGradient`) are built once, wired as the fit wires them, and
reused by every call and every frame: new values go in with ``DeviceScene.set_values``, new targets with
``ImageLoss.set_reference``; nothing is compiled again after the first call.

**Seeds.** Every call takes its sample seed explicitly (default: the object's ``seed``), so that two calls
with the same seed use the same samples (common random numbers: central differences of
:meth:`Objective.value` are then differences of one smooth estimate). Frame ``f`` of a call with seed
``s`` renders with :func:`frame_seed` (s, f). The gradient is estimated as the fit estimates it: with
independent samples for the shading term (``decorrelate``) and the boundary terms of outlines and shadow
edges that move (``boundary``), both derived from the call's seed (:mod:`raydiff.optim.gradient`).
"""

import numpy as np

from .. import backend
from ..device.scene import DeviceScene
from ..errors import Location, SceneError
from ..kernels.boundary import make_boundary
from ..kernels.integrator import Integrator
from ..scene.model import FreeParameter, Scene
from ..scene.parameters import Resolved, resolve, resolve_all, scene_size
from .fit import as_references
from .gradient import LossGradient
from .loss import LOSSES, ImageLoss


def frame_seed(seed: int, frame: int) -> int:
    """The sample seed of frame ``frame`` of a call with seed ``seed``: distinct per frame, reproducible."""
    return (int(seed) * 0x9E3779B1 + int(frame) * 0xC2B2AE35 + 7) & 0xFFFFFFFF


def resolve_free(scene: Scene, free) -> list[Resolved]:
    """The free parameters named by ``free`` (dotted paths, or :class:`FreeParameter` entries), resolved
    against ``scene`` with the parameter table (:func:`raydiff.scene.parameters.resolve`); None takes the
    scene's ``optimize`` section.

    Raises
    ------
    KeyError
        If a path names no element of the scene, or a field that cannot be freed (the message suggests
        the nearest valid one).
    ValueError
        If ``free`` is empty, or names a parameter twice.
    """
    if free is None:
        resolved = resolve_all(scene)
    else:
        if isinstance(free, (str, FreeParameter)):
            free = [free]
        entries = [f if isinstance(f, FreeParameter) else FreeParameter(str(f)) for f in free]
        size = scene_size(scene)
        resolved = []
        for entry in entries:
            try:
                resolved.append(resolve(scene, entry, Location("free", entry.path), size=size))
            except SceneError as error:
                raise KeyError(f"free parameter '{entry.path}': {error.message}") from None
    if not resolved:
        raise ValueError("nothing is free: name the parameters with free=[...] or give the scene an 'optimize' section")
    keys = [r.key for r in resolved]
    twice = sorted({r.path for r in resolved if keys.count(r.key) > 1})
    if twice:
        raise ValueError(f"free names a parameter more than once: {', '.join(twice)}")
    return resolved


class Objective:
    """The image loss of a scene and its gradient with respect to some of its values.

    Parameters
    ----------
    scene : Scene
        The scene; values not free stay as it gives them.
    references : optional
        The target of :meth:`value_and_grad`: one per camera, in ``scene.cameras`` order (a
        :class:`Reference` or a bare (height, width, 3) linear RGB array; a single one for a scene with
        one camera). None compares with black until :meth:`set_reference` (or pass the references of
        each call to :meth:`frames`).
    free : sequence of str or FreeParameter, optional
        The dotted paths (``"objects.bob.center"``, ``"lights.key.position"``) of the values the
        gradient is taken for; default: the scene's ``optimize`` section.
    spp : int, optional
        Samples per pixel of every render (default: the film's).
    loss : {"mse", "l1"}
    seed : int
        The default sample seed of a call.
    decorrelate, boundary : bool
        As in :class:`raydiff.FitSettings`: independent samples for the shading gradient, and the boundary
        terms of moving outlines and shadow edges.
    edge_samples : int, optional
        Samples per candidate edge of the boundary terms (default: the fit's,
        :class:`raydiff.kernels.boundary.Boundary`); more for a precise check.

    Attributes
    ----------
    paths : list of str
        The free parameters' paths, in order.
    sizes : dict
        The number of components of each.

    Raises
    ------
    KeyError, ValueError
        See :func:`resolve_free`; ValueError also for a wrong loss or wrong references.
    """

    def __init__(self, scene: Scene, references=None, free=None, *, spp: int | None = None, loss: str = "mse",
                 seed: int = 0, decorrelate: bool = True, boundary: bool = True, edge_samples: int | None = None):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss '{loss}'; choose one of {', '.join(LOSSES)}")
        backend.current()  # initialise Taichi (auto) if the caller has not chosen a backend
        self.scene, self.seed = scene, int(seed)
        self.free = resolve_free(scene, free)
        self.paths = [r.path for r in self.free]
        self.sizes = {r.path: r.kind.size for r in self.free}
        self.n_views = len(scene.cameras)
        self.height, self.width = scene.film.height, scene.film.width
        self.dev = DeviceScene(scene, self.free)
        self.integrator = Integrator(self.dev, spp=spp)
        black = np.zeros((self.n_views, self.height, self.width, 3), dtype=np.float32)
        self.loss = ImageLoss(self.integrator.image, black, loss, clamp=False,
                              weights=[c.weight for c in scene.cameras])
        self.boundary = make_boundary(self.integrator, samples_per_edge=edge_samples) if boundary else None
        self.gradient = LossGradient(self.integrator, self.loss, decorrelate=decorrelate, boundary=self.boundary)
        self._renderers: dict[int, Integrator] = {self.integrator.spp: self.integrator}
        if references is not None:
            self.set_reference(references)

    # --- targets ----------------------------------------------------------------------------------------
    def _prepared(self, references) -> tuple[np.ndarray, list[bool]]:
        """One frame's references as a (views, height, width, 3) array and their clamp flags."""
        refs = as_references(self.scene, references)
        pixels = np.stack([r.linear for r in refs]).astype(np.float32)
        want = (self.n_views, self.height, self.width, 3)
        if pixels.shape != want:
            got = ", ".join(str(r.linear.shape) for r in refs)
            raise ValueError(f"references of shape {got}; the film is (height, width, 3) = "
                             f"({self.height}, {self.width}, 3)")
        return np.ascontiguousarray(pixels), [r.low_dynamic_range for r in refs]

    def set_reference(self, references) -> None:
        """Compare with ``references`` (one per camera, see the class) from now on; one device write."""
        pixels, clamp = self._prepared(references)
        self.loss.set_reference(pixels, clamp=clamp)

    # --- values -------------------------------------------------------------------------------------------
    def _checked_values(self, values: dict) -> dict[str, np.ndarray]:
        out = {}
        for path, value in dict(values).items():
            if path not in self.sizes:
                raise KeyError(f"'{path}' is not a free parameter of this objective; free: {', '.join(self.paths)}")
            value = np.asarray(value, dtype=np.float64)
            if value.size != self.sizes[path] or value.ndim > 1:
                raise ValueError(f"{path} has {self.sizes[path]} component(s), got an array of shape {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"{path} must be finite, got {value.tolist()}")
            out[path] = value.ravel()
        return out

    def set_values(self, values: dict) -> None:
        """Write values (a subset of the free parameters, keyed by path) into the scene on the device."""
        values = self._checked_values(values)
        if values:
            self.dev.set_values(values)

    def values(self) -> dict[str, np.ndarray]:
        """The free parameters' current values (one device read)."""
        return self.dev.values()

    def _grads(self) -> dict[str, np.ndarray]:
        grad = self.dev.pool.grad.to_numpy().astype(np.float64)
        return {path: grad[self.dev.offsets(path)] for path in self.paths}

    # --- one evaluation -----------------------------------------------------------------------------------
    def value_and_grad(self, values: dict | None = None, seed: int | None = None) -> tuple[float, dict]:
        """The loss at ``values`` against the current references, and its gradient.

        Parameters
        ----------
        values : dict, optional
            Values of free parameters keyed by path (the others keep their current values).
        seed : int, optional
            The sample seed (default: the object's); equal seeds give equal samples.

        Returns
        -------
        loss : float
            Summed over views, each weighted by its camera's weight.
        grads : dict of str to np.ndarray
            ``d loss / d value`` of every free parameter (float64, one entry per component).
        """
        self.set_values(values or {})
        self.gradient(self.seed if seed is None else int(seed))
        return self.loss.read(), self._grads()

    def value(self, values: dict | None = None, seed: int | None = None) -> float:
        """The loss alone (a forward pass; the same samples as :meth:`value_and_grad`'s with ``seed``)."""
        self.set_values(values or {})
        self.integrator.forward(self.seed if seed is None else int(seed))
        self.loss.forward()
        return self.loss.read()

    def render(self, values: dict | None = None, seed: int | None = None, spp: int | None = None) -> list[np.ndarray]:
        """Render every view at ``values``: a list of (height, width, 3) linear RGB arrays, camera order.

        ``spp`` other than the objective's builds one more integrator for that count, once (kept for the
        next calls), e.g. to render references with more samples than the gradient uses.
        """
        self.set_values(values or {})
        spp = self.integrator.spp if spp is None else int(spp)
        if spp not in self._renderers:
            self._renderers[spp] = Integrator(self.dev, spp=spp)
        renderer = self._renderers[spp]
        renderer.forward(self.seed if seed is None else int(seed))
        return renderer.views_numpy()

    # --- frames -------------------------------------------------------------------------------------------
    def _frame_values(self, values: dict) -> tuple[int, dict[str, np.ndarray]]:
        arrays, count = {}, None
        for path, value in dict(values).items():
            if path not in self.sizes:
                raise KeyError(f"'{path}' is not a free parameter of this objective; free: {', '.join(self.paths)}")
            value = np.asarray(value, dtype=np.float64)
            if value.ndim == 1 and self.sizes[path] == 1:
                value = value[:, None]
            if value.ndim != 2 or value.shape[1] != self.sizes[path]:
                raise ValueError(f"{path}: give an array of shape (frames, {self.sizes[path]}), got {value.shape}")
            if count is not None and len(value) != count:
                raise ValueError(f"{path} has {len(value)} frames, another parameter {count}")
            count = len(value)
            arrays[path] = value
        if not count:
            raise ValueError("give at least one frame: values of shape (frames, components)")
        return count, arrays

    def prepare_frames(self, references) -> list:
        """Check a sequence of frames' references once (each as :meth:`set_reference` takes it) and keep
        them ready for :meth:`frames` (pass the returned list instead of the references)."""
        return [_Prepared(*self._prepared(r)) for r in references]

    def frames(self, values: dict, references, seed: int | None = None) -> tuple[np.ndarray, dict]:
        """The loss of every frame and its gradient with respect to that frame's values.

        Parameters
        ----------
        values : dict of str to array (frames, components)
            Per free parameter (a subset of them: the others keep their current values), its value in
            every frame.
        references : sequence
            One entry per frame, each what :meth:`set_reference` takes (or :meth:`prepare_frames`' list).
        seed : int, optional
            Frame f renders with :func:`frame_seed` (seed, f) (default seed: the object's).

        Returns
        -------
        losses : np.ndarray (frames,)
        grads : dict of str to np.ndarray (frames, components)
            ``d losses[f] / d values[path][f]`` (so the gradient of the sum of the losses).
        """
        frames = self._frames_of(values, references, seed)
        losses = np.zeros(len(frames))
        grads = {path: np.zeros((len(frames), self.sizes[path])) for path in self.paths}
        for f, (frame, reference, frame_seed_) in enumerate(frames):
            self.loss.set_reference(reference.pixels, clamp=reference.clamp)
            losses[f], frame_grads = self.value_and_grad(frame, frame_seed_)
            for path, g in frame_grads.items():
                grads[path][f] = g
        return losses, grads

    def frame_values(self, values: dict, references, seed: int | None = None) -> np.ndarray:
        """The loss of every frame alone (forward passes with the samples :meth:`frames` uses for the
        same ``seed``: central differences of it check :meth:`frames`' gradient)."""
        losses = []
        for frame, reference, frame_seed_ in self._frames_of(values, references, seed):
            self.loss.set_reference(reference.pixels, clamp=reference.clamp)
            losses.append(self.value(frame, frame_seed_))
        return np.array(losses, dtype=np.float64)

    def _frames_of(self, values: dict, references, seed: int | None) -> list[tuple[dict, "_Prepared", int]]:
        """Per frame: its values, its prepared reference and its sample seed (the counts checked)."""
        count, arrays = self._frame_values(values)
        references = list(references)
        if len(references) != count:
            raise ValueError(f"{count} frames of values but {len(references)} frames of references")
        seed = self.seed if seed is None else int(seed)
        prepared = [r if isinstance(r, _Prepared) else _Prepared(*self._prepared(r)) for r in references]
        return [({p: v[f] for p, v in arrays.items()}, prepared[f], frame_seed(seed, f)) for f in range(count)]

    def render_frames(self, values: dict, seed: int | None = None, spp: int | None = None) -> list[list[np.ndarray]]:
        """Render every frame (values as :meth:`frames` takes them): per frame, the list of its views."""
        count, arrays = self._frame_values(values)
        seed = self.seed if seed is None else int(seed)
        return [self.render({p: v[f] for p, v in arrays.items()}, frame_seed(seed, f), spp) for f in range(count)]


class _Prepared:
    """One frame's references, checked: (views, height, width, 3) float32 and the clamp flags."""

    def __init__(self, pixels: np.ndarray, clamp: list[bool]):
        self.pixels, self.clamp = pixels, clamp
