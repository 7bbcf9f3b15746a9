"""The fit loop: the only place that orders render, loss, gradient and optimiser step.

One iteration with sample seed s_i (a fresh one each iteration, derived from the fit's seed), by Adam:

    gradient(s_i) -> [history row] -> adam.step()

where ``gradient`` is a :class:`raydiff.optim.gradient.LossGradient`: integrator.forward(s_i) ->
loss.forward() -> loss.backward() -> integrator.backward(an independent seed derived from s_i, or s_i
itself with ``decorrelate=False``) -> the boundary terms (when there are any); or by Levenberg-Marquardt
(:mod:`raydiff.optim.levenberg`, the default for fits of at most 32 free scalars with the L2 loss):

    lm.evaluate(s_i) -> [history row] -> lm.step(s_i)   (Jacobians, normal equations, trial renders)

Everything stays on the device: the history (loss and every free component, one row per iteration) is
written by a kernel into a field and read back only when somebody asks (a callback, or the end of the
fit), or when the field's :data:`HISTORY_CHUNK` rows are full: then they move to the host in one read and
the field starts over, so that neither its size nor its cost grows with ``iterations``. Kernels are
compiled on the first iteration and reused after.

``settings.iterations`` is a cap: every ``settings.window`` iterations the fit reads the last
``2 * window`` history rows (one device read) and stops once they say it has converged
(:mod:`raydiff.optim.converge`; ``tol=0`` turns this off). :attr:`FitResult.ended` says what ended it.
"""


import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import taichi as ti

from .. import backend
from ..device.scene import DeviceScene
from ..device.upload import together, upload
from ..io.images import Reference
from ..kernels.boundary import make_boundary
from ..kernels.integrator import Integrator
from .loss import ImageLoss
from .adam import Adam
from .gradient import LossGradient, primary_seeds, primary_sets_before, refresh_due, refresh_seed
from .converge import check_due, converged, scales
from . import levenberg
from .levenberg import LevenbergMarquardt
from ..scene.parameters import TEXTURE_SUMMARY, Resolved, resolve_all, scene_size, with_values
from ..scene.model import Scene
from ..scene.limits import MAX_ITERATIONS, MAX_PRIMARY_SETS, MAX_SEED, MAX_SPP, MIN_PRIMARY_SETS, float32_problem

#: Texels a thread sums for a free texture's history columns (its mean per channel).
TEXEL_BLOCK = 1024
#: Rows of the history kept on the device; each full chunk moves to the host (one read per chunk).
HISTORY_CHUNK = 1024


#: The arrays of every :meth:`Fitter.checkpoint`, which :meth:`Fitter.restore` needs (and the optimiser's own:
#: Adam's ``Adam.STATE_ARRAYS`` or Levenberg-Marquardt's ``LevenbergMarquardt.STATE_ARRAYS``).
CHECKPOINT_ARRAYS = ("iteration", "pool", "history", "columns")

#: What ``FitSettings.optimizer`` accepts.
OPTIMIZERS = ("auto", "adam", "lm")


class CheckpointMismatch(ValueError):
    """A checkpoint that this fit cannot continue from (another scene, another layout, a damaged array)."""


def as_references(scene: Scene, references) -> list[Reference]:
    """``references`` as a list with one :class:`Reference` per camera of ``scene``.

    A reference may also be a bare (height, width, 3) array of linear RGB (for scripts that render their
    own): it is taken as high dynamic range (compared unclamped), as an EXR file would be.

    Raises
    ------
    ValueError
        If the count is not the number of cameras, or an array is not (height, width, 3) and finite.
    """
    single = isinstance(references, Reference) or (isinstance(references, np.ndarray) and references.ndim == 3)
    refs = [_as_reference(r, i) for i, r in enumerate([references] if single else list(references))]
    if len(refs) != len(scene.cameras):
        names = ", ".join(c.name for c in scene.cameras)
        raise ValueError(
            f"the scene has {len(scene.cameras)} camera(s) ({names}) but {len(refs)} reference(s) were given: "
            "give one reference per camera, in order"
        )
    return refs


def _as_reference(reference, index: int) -> Reference:
    """A :class:`Reference`, or a bare linear RGB array made into one (named ``<array i>``)."""
    if isinstance(reference, Reference):
        return reference
    pixels = np.asarray(reference, dtype=np.float32)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"reference {index} is an array of shape {pixels.shape}; expected (height, width, 3) "
                         "linear RGB, or a Reference (raydiff.read_reference)")
    if not np.isfinite(pixels).all():
        raise ValueError(f"reference {index} holds values that are not finite; expected linear RGB")
    return Reference(path=f"<array {index}>", linear=pixels, low_dynamic_range=False)


def iteration_seed(seed: int, iteration: int) -> int:
    """The sample seed of one iteration: distinct per iteration, reproducible from the fit's seed."""
    return (int(seed) * 0x9E3779B1 + int(iteration) * 0x85EBCA77 + 1) & 0xFFFFFFFF


@dataclass(frozen=True)
class FitSettings:
    """How to fit.

    Parameters
    ----------
    iterations : int
        The most optimiser steps: the cap. The fit ends earlier when it has converged (``tol``).
    lr : float, optional
        If given, the learning rate of every free parameter (overrides the scene's and the defaults).
    lr_decay : float
        Every learning rate is multiplied by ``lr_decay ** iteration`` (1: constant). The default, 0.98,
        shrinks the steps (and with them the Monte Carlo jitter of the values) ten times by iteration 115.
    beta2 : float
        Adam's second-moment decay. The default, 0.9, forgets the large gradients of the first iterations
        within about ten: the steps stay about the learning rate as the fit closes in, instead of
        shrinking with the gradient (0.999, Adam's usual value and raydiff's before issue 10, left a slow
        tail; benchmarks/convergence.py measures both).
    spp : int, optional
        Samples per pixel while fitting; defaults to the scene's film.
    seed : int
        The fit's seed; iteration i renders with :func:`iteration_seed` (seed, i).
    loss : {"mse", "l1"}
    decorrelate : bool
        Estimate the gradient with samples independent of the render's (unbiased; one more visibility
        pass per iteration: +28% at 256x256, 4 spp). False reuses the render's samples (biased by O(1/spp)):
        the behaviour before. See :mod:`raydiff.optim.gradient`.
    boundary : bool
        Add the boundary terms (shadow edges and outlines moving) to the gradient, where the scene has
        any (:mod:`raydiff.kernels.boundary`).
    tol : float
        The stop criterion's tolerance (:mod:`raydiff.optim.converge`): the fit ends once, between two
        consecutive windows of ``window`` iterations, the mean loss has fallen by less than ``10 * tol`` of
        itself and no free component's mean has moved by more than ``tol`` of its scale. 0 turns the
        criterion off: the fit runs all its ``iterations``.
    window : int
        Iterations per window of the stop criterion; it is checked every ``window`` iterations, from
        ``2 * window`` on.
    optimizer : {"auto", "adam", "lm"}
        ``"lm"``: Levenberg-Marquardt on the image residuals (:mod:`raydiff.optim.levenberg`; the L2 loss
        only; ``lr``, ``lr_decay``, ``beta2``, ``decorrelate`` and ``boundary`` do not apply: its Jacobian's
        differences of renders see moving edges in any case, on samples of their own). ``"adam"``: Adam on the gradient
        (:mod:`raydiff.optim.adam`). ``"auto"`` (the default): ``"lm"`` when at most
        :data:`raydiff.optim.levenberg.MAX_FREE` scalars are free and the loss is ``"mse"``, Adam
        otherwise (:func:`optimizer_of`).
    primary_sets : int
        Sample sets of the primary cache (:mod:`raydiff.kernels.primary`): the camera rays' hits of that
        many sets of samples are traced once and the iterations reuse them (the render, the gradient, the
        Jacobian's renders run only shadow rays and shading). Only where it applies: light and material
        fits (neither a camera nor the geometry free, no mirror followed; memory: fewer sets where fewer
        fit, none below four); elsewhere, or with 0, every iteration traces its own camera rays. The
        default, 8, with ``primary_refresh`` 1, recovered the example scenes as the plain path does over
        five seeds, in fewer milliseconds an iteration (docs/performance.md, section 16).
    primary_refresh : int
        With the primary cache, re-trace the set an iteration's forward pass reads with fresh samples
        (one set's camera rays) once its samples are ``primary_refresh`` iterations old (a rolling cache:
        :func:`raydiff.optim.gradient.refresh_due`); with 1 (the default) every loss is measured on fresh
        samples and the fit's fixed point is the plain path's; 0 keeps the sets fixed for the whole fit
        (faster; its final errors were up to 2 to 5 times the plain path's: docs/performance.md, section 11).

    Settings saved before a field existed (settings.json, checkpoints) load with its default, but for the
    fields of the stop criterion and Adam's ``beta2`` (:data:`PREDATING`): those load with the behaviour
    that was in force before them, so that an older fit resumes as it started.
    """

    iterations: int = 200
    lr: float | None = None
    lr_decay: float = 0.98
    spp: int | None = None
    seed: int = 0
    loss: str = "mse"
    decorrelate: bool = True
    boundary: bool = True
    tol: float = 1e-3
    window: int = 10
    beta2: float = 0.9
    optimizer: str = "auto"
    primary_sets: int = 8
    primary_refresh: int = 1

    def __post_init__(self):
        if self.iterations < 0:
            raise ValueError("iterations must be >= 0")
        if self.iterations > MAX_ITERATIONS:
            raise ValueError(f"iterations must be at most {MAX_ITERATIONS} (the device counts them in int32), "
                             f"got {self.iterations}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite positive number, got {self.lr}")
        if self.lr is not None and float32_problem(self.lr):
            raise ValueError(f"lr must be a number the device can hold, got {self.lr:g}: {float32_problem(self.lr)}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError("lr_decay must be in (0, 1]")
        if float32_problem(self.lr_decay):
            raise ValueError(f"lr_decay must be in (0, 1] and a number the device can hold, got {self.lr_decay:g}: "
                             f"{float32_problem(self.lr_decay)}")
        if self.spp is not None and self.spp < 1:
            raise ValueError("spp must be at least 1")
        if self.spp is not None and self.spp > MAX_SPP:
            raise ValueError(f"spp must be at most {MAX_SPP} (a sample's index is an int32 on the device), got {self.spp}")
        if not (isinstance(self.tol, (int, float)) and math.isfinite(self.tol) and 0 <= self.tol < 1):
            raise ValueError(f"tol must be a number in [0, 1) (0: no stop criterion, run every iteration), got {self.tol}")
        if not (isinstance(self.beta2, (int, float)) and 0 < self.beta2 < 1):
            raise ValueError(f"beta2 must be in (0, 1), got {self.beta2}")
        if not 1 <= self.window <= MAX_ITERATIONS:
            raise ValueError(f"window must be a whole number of iterations in [1, {MAX_ITERATIONS}], got {self.window}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}] (sample seeds are 32 bits), got {self.seed}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if (isinstance(self.primary_sets, bool) or not isinstance(self.primary_sets, int)
                or not (self.primary_sets == 0 or MIN_PRIMARY_SETS <= self.primary_sets <= MAX_PRIMARY_SETS)):
            raise ValueError(f"primary_sets must be 0 (no primary cache) or a whole number in [{MIN_PRIMARY_SETS}, "
                             f"{MAX_PRIMARY_SETS}], got {self.primary_sets!r}")
        if (isinstance(self.primary_refresh, bool) or not isinstance(self.primary_refresh, int)
                or not 0 <= self.primary_refresh <= MAX_ITERATIONS):
            raise ValueError(f"primary_refresh must be a whole number of iterations in [0, {MAX_ITERATIONS}] "
                             f"(0: the primary cache's sets stay fixed), got {self.primary_refresh!r}")
        if self.optimizer == "lm" and self.loss != "mse":
            raise ValueError(f"optimizer lm fits the mse loss, not {self.loss}: choose adam (or auto) for it")

    @classmethod
    def from_dict(cls, fields: dict) -> "FitSettings":
        """The settings a ``dataclasses.asdict`` of them saved (settings.json, a checkpoint's meta): a
        field missing there (saved before it existed) takes its default; keys no field has are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**PREDATING, **{key: value for key, value in fields.items() if key in names}})


#: The values of fields that changed how fits run when they were added, for settings saved before them:
#: no stop criterion (the fit ran all its iterations), Adam's usual beta2, and Adam.
PREDATING = {"tol": 0.0, "beta2": 0.999, "optimizer": "adam", "primary_sets": 0, "primary_refresh": 0}


def optimizer_of(settings: FitSettings, free_scalars: int) -> str:
    """The optimiser a fit with ``settings`` and ``free_scalars`` free components runs: ``"adam"`` or
    ``"lm"`` (``"auto"``: Levenberg-Marquardt for at most :data:`raydiff.optim.levenberg.MAX_FREE`
    scalars and the L2 loss, where it needs a few dozen renders an iteration; Adam for more)."""
    if settings.optimizer != "auto":
        return settings.optimizer
    return "lm" if free_scalars <= levenberg.MAX_FREE and settings.loss == "mse" else "adam"


class Iteration:
    """What a callback sees after each iteration; every accessor reads the device, so read only what
    you need.

    Attributes
    ----------
    index : int
        The iteration just done (0-based). Its render and loss are for the parameters *before* its step.
    total : int
        The most iterations the fit will run (``settings.iterations``, the cap).
    converged : bool
        The stop criterion fired after this iteration: it is the fit's last.
    last : bool
        This is the fit's last iteration (the cap reached, or converged), unless a callback stops it.
    """

    def __init__(self, fitter: "Fitter", index: int):
        self._fitter, self.index, self.total = fitter, index, fitter.settings.iterations
        self.converged = fitter.converged
        self.last = self.converged or index + 1 >= self.total

    @property
    def loss(self) -> float:
        """This iteration's loss, as its history row holds it (one device read)."""
        return self._fitter.recorded_loss(self.index)

    def image(self, view: int = 0) -> np.ndarray:
        """This iteration's render of one view, (height, width, 3) linear RGB."""
        return self._fitter.integrator.to_numpy(view)

    def images(self) -> list[np.ndarray]:
        """This iteration's render of every view, in the scene's camera order (one device read)."""
        return self._fitter.integrator.views_numpy()

    def values(self) -> dict[str, np.ndarray]:
        """The free parameters after this iteration's step, keyed by dotted path."""
        return self._fitter.dev.values()

    def guard(self) -> dict:
        """The divergence guard's state: ``halvings`` (rollbacks so far), ``last_rollback``,
        ``best_iteration``, ``best_loss``, ``steps``."""
        return self._fitter.optimizer.read_state()

    def stop(self) -> None:
        """Ask the fit to stop after this iteration (as if it had run its iterations)."""
        self._fitter.stop_requested = True

    def checkpoint(self) -> dict[str, np.ndarray]:
        """The fit's state after this iteration (see :meth:`Fitter.checkpoint`; a few device reads)."""
        return self._fitter.checkpoint()


@dataclass
class FitResult:
    """The outcome of a fit.

    Attributes
    ----------
    scene : Scene
        The scene with the fitted values.
    values : dict
        The fitted value of every free parameter, keyed by dotted path: with Adam the *best* iterate
        (lowest loss seen), not necessarily the last; with Levenberg-Marquardt the last accepted iterate.
    last_values : dict
        The values after the last step.
    start : dict
        The starting values.
    columns : list of str
        ``["iteration", "loss", "lights.key.position[0]", ...]``.
    history : np.ndarray
        One row per iteration run, ``len(columns)`` wide: the loss and the values that gave it.
    final_images : list of np.ndarray
        The last iteration's render of every view (linear RGB), in the scene's camera order.
    view_names : list of str
        The cameras' names, in the same order.
    backend : str
    seconds : float
        Wall time of the loop, compilation included.
    best_iteration : int
        The iteration whose values are ``values`` (-1 if no iteration ran).
    best_loss : float
    halvings : int
        How often the divergence guard rolled back and halved the learning rates.
    stopped : bool
        True if a callback stopped the fit (``Iteration.stop``, e.g. on a signal) before it converged or
        ran all its iterations.
    ended : {"converged", "iterations", "stopped"}
        What ended the fit: the stop criterion (:mod:`raydiff.optim.converge`), the cap
        (``settings.iterations``), or a callback.
    optimizer : {"adam", "lm"}
        The optimiser that ran (:func:`optimizer_of`).
    """

    scene: Scene
    values: dict[str, np.ndarray]
    last_values: dict[str, np.ndarray]
    start: dict[str, np.ndarray]
    columns: list[str]
    history: np.ndarray
    final_images: list[np.ndarray]
    view_names: list[str]
    backend: str
    seconds: float = 0.0
    settings: FitSettings = field(default_factory=FitSettings)
    best_iteration: int = -1
    best_loss: float = float("nan")
    halvings: int = 0
    stopped: bool = False
    ended: str = "iterations"
    optimizer: str = "adam"

    @property
    def final_image(self) -> np.ndarray:
        """The last iteration's render of the first view."""
        return self.final_images[0]

    @property
    def iterations(self) -> int:
        """Iterations run (all of them unless stopped)."""
        return len(self.history)

    @property
    def final_loss(self) -> float:
        """The loss of the last iteration run."""
        return float(self.history[-1, 1]) if len(self.history) else float("nan")


class Fitter:
    """Owns the device objects of one fit; :func:`fit` is the convenient front door.

    Parameters
    ----------
    scene : Scene
        The starting scene; its ``optimize`` entries say what is free.
    references : Reference or sequence of Reference
        The target images, one per camera in ``scene.cameras`` order (a single Reference for a scene
        with one camera), already checked to be the film's size.
    settings : FitSettings

    Raises
    ------
    ValueError
        If the scene frees nothing or the number of references is not the number of cameras.
    """

    def __init__(self, scene: Scene, references, settings: FitSettings = FitSettings()):
        self.scene, self.settings = scene, settings
        self.references = as_references(scene, references)
        self.free: list[Resolved] = resolve_all(scene)
        if not self.free:
            raise ValueError("the scene frees no parameter: add an 'optimize' section")
        # The device scene's, the camera's and the loss's small fields written by one kernel at the block's
        # end (device/upload.py; none of the three launches a kernel that reads them while it is built)
        with together():
            self.dev = DeviceScene(scene, self.free)
            self.integrator = Integrator(self.dev, spp=settings.spp,
                                         primary_seeds=primary_seeds(settings.seed, settings.primary_sets))
            self.loss = ImageLoss(
                self.integrator.image,
                [r.linear for r in self.references],
                settings.loss,
                clamp=[r.low_dynamic_range for r in self.references],
                weights=[c.weight for c in scene.cameras],
            )
        lr, lower, upper = self._rates(self.free)
        starts = np.cumsum([0] + [r.kind.size for r in self.free])[:-1]
        unit = [int(i) for i, r in zip(starts, self.free) if r.kind.unit]
        self.method = optimizer_of(settings, len(self.dev.free_offsets))
        # The gradient (and the boundary terms' fields and kernels) only where Adam needs it: a
        # Levenberg-Marquardt fit renders its Jacobian by differences and never asks for one.
        self.gradient: LossGradient | None = None
        if self.method != "lm":
            boundary = make_boundary(self.integrator) if settings.boundary else None
            self.gradient = LossGradient(self.integrator, self.loss, decorrelate=settings.decorrelate,
                                         boundary=boundary)
        if self.method == "lm":
            linear = [r.kind.field in levenberg.LINEAR_FIELDS for r in self.free for _ in range(r.kind.size)]
            self.optimizer = LevenbergMarquardt(self.integrator, self.loss, self.dev.free_offsets, lower, upper,
                                                self._steps(scene, self.free), unit=unit, linear=linear)
        else:
            self.optimizer = Adam(self.dev.pool, self.dev.free_offsets, lr, lower, upper, loss=self.loss.value,
                                  unit=unit, beta2=settings.beta2)
            self.optimizer.project()
        self.start = self.dev.values()
        self.columns = ["iteration", "loss"] + [c for r in self.free for c in r.component_names()]
        self.history = ti.field(ti.f32, shape=(min(max(settings.iterations, 1), HISTORY_CHUNK), len(self.columns)))
        self._host_history: list[np.ndarray] = []  # the full chunks moved to the host, float32
        self._host_rows = 0  # how many rows they hold: the field's row r is iteration _host_rows + r
        self.iteration = 0
        self.stop_requested = False
        self.converged = False
        self._fixed, self._floor = scales(self.free, scene_size(scene))
        self._record = self._make_recorder()
        # the iteration each set of the primary cache was traced at (0: the first sets; a rolling cache's)
        self._traced = [0] * (self.integrator.primary.sets if self.integrator.primary is not None else 0)

    def _rates(self, free: list[Resolved]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per free component: learning rate, lower and upper bound."""
        lr = np.concatenate([np.full(r.kind.size, self.settings.lr or r.lr) for r in free])
        lower = np.concatenate([np.full(r.kind.size, r.lower) for r in free])
        upper = np.concatenate([np.full(r.kind.size, r.upper) for r in free])
        return lr, lower, upper

    @staticmethod
    def _steps(scene: Scene, free: list[Resolved]) -> np.ndarray:
        """Per free component, Levenberg-Marquardt's difference step: :data:`levenberg.STEP` of the
        stop criterion's scale of its starting value."""
        fixed, floor = scales(free, scene_size(scene))
        start = np.concatenate([np.asarray(r.start, dtype=np.float64) for r in free])
        return levenberg.STEP * np.where(fixed > 0, fixed, np.maximum(np.abs(start), floor))

    def _make_recorder(self):
        """The kernel that writes a history row: the loss, every free scalar's value, and for a free texture
        (hundreds of thousands of scalars) its mean per channel (:data:`TEXTURE_SUMMARY` columns)."""
        history, value, pool = self.history, self.loss.value, self.dev.pool
        scalar_columns, scalar_index, textures = [], [], []  # textures: (first column, pool offset, scalars)
        column, at = 2, 0
        for r in self.free:
            offsets = self.dev.free_offsets[at : at + r.kind.size]
            if r.kind.texture:
                textures.append((column, int(offsets[0]), r.kind.size))
            else:
                scalar_columns += range(column, column + r.kind.size)
                scalar_index += [int(k) for k in offsets]
            column += len(r.component_names())
            at += r.kind.size
        n = len(scalar_columns)
        # Without a free texture, column 2 + i holds free component i, whose pool index the optimiser's
        # ``index`` field holds already: no fields and no upload kernel of the recorder's own (one kernel
        # fewer at the start, docs/performance.md section 15).
        in_order = not textures
        assert not in_order or scalar_index == [int(k) for k in self.dev.free_offsets]
        columns = None if in_order else ti.field(ti.i32, shape=max(n, 1))
        index = self.optimizer.index if in_order else ti.field(ti.i32, shape=max(n, 1))
        if n and not in_order:  # one kernel for both (device/upload.py)
            upload([(columns, np.asarray(scalar_columns, dtype=np.int32)), (index, np.asarray(scalar_index, dtype=np.int32))])

        @ti.kernel
        def record(row: ti.i32):
            for i in range(n):
                if ti.static(in_order):
                    history[row, 2 + i] = pool[index[i]]
                else:
                    history[row, columns[i]] = pool[index[i]]
            for t in ti.static(range(len(textures))):
                first, base, count = textures[t]
                for c in ti.static(range(TEXTURE_SUMMARY)):
                    history[row, first + c] = 0.0
                # the texels (interleaved RGB) summed a block of TEXEL_BLOCK per thread, then added up: a
                # few hundred atomic adds to each column, not one per texel
                for block in range((count // 3 + TEXEL_BLOCK - 1) // TEXEL_BLOCK):
                    total = ti.Vector([0.0, 0.0, 0.0])
                    for j in range(block * TEXEL_BLOCK, ti.min((block + 1) * TEXEL_BLOCK, count // 3)):
                        total += ti.Vector([pool[base + 3 * j], pool[base + 3 * j + 1], pool[base + 3 * j + 2]])
                    for c in ti.static(range(TEXTURE_SUMMARY)):
                        history[row, first + c] += total[c] * (3.0 / count)
            history[row, 0] = ti.cast(row, ti.f32)
            history[row, 1] = value[None]

        return record

    def step(self) -> None:
        """One iteration: render, loss, gradient (:class:`LossGradient`), guarded Adam step; or render,
        loss and a Levenberg-Marquardt step (which renders its Jacobian and trials itself)."""
        i = self.iteration
        seed = iteration_seed(self.settings.seed, i)
        self._refresh_primary(i)
        if self.method == "lm":
            self.optimizer.evaluate(seed)
        else:
            self.gradient(seed)
        row = i - self._host_rows
        if row == self.history.shape[0]:  # the chunk is full: move it to the host, start the field over
            self._host_history.append(self.history.to_numpy())
            self._host_rows, row = i, 0
        self._record(row)  # the loss and the values that gave it (the pool is unchanged until the step)
        if self.method == "lm":
            self.optimizer.step(seed, i)
        else:
            self.optimizer.step(self.settings.lr_decay**i, i)
        self.iteration += 1
        self._check_converged()

    def _refresh_primary(self, i: int) -> None:
        """A rolling primary cache's refresh due at the start of iteration ``i``, if any: the set its
        forward pass reads re-traced with fresh samples."""
        if self.integrator.primary is None:
            return
        k = self._forward_set(i)
        if refresh_due(self.settings.primary_refresh, i, self._traced[k]):
            self.integrator.refresh_primary(k, refresh_seed(self.settings.seed, i))
            self._traced[k] = i

    def _forward_set(self, i: int) -> int:
        """The primary cache's set iteration ``i``'s forward pass (the residual) reads."""
        return self.integrator.primary.set_of(iteration_seed(self.settings.seed, i))

    def _check_converged(self) -> None:
        """Every ``window`` iterations, the stop criterion on the last two windows (one device read)."""
        s = self.settings
        if check_due(self.iteration, s.window, s.tol):
            self.converged = converged(self._recent_rows(2 * s.window), s.window, s.tol, self._fixed, self._floor)

    def _recent_rows(self, count: int) -> np.ndarray:
        """The last ``count`` rows recorded (one read of the device's history field)."""
        rows = self.history.to_numpy()[: self.iteration - self._host_rows]
        if len(rows) < count and self._host_history:
            rows = np.concatenate(self._host_history + [rows])
        return rows[-count:]

    @property
    def done(self) -> bool:
        return self.stop_requested or self.converged or self.iteration >= self.settings.iterations

    @property
    def ended(self) -> str:
        """What ended (or would end, now) the fit: "converged", "iterations" or "stopped"."""
        if self.converged:
            return "converged"
        return "iterations" if self.iteration >= self.settings.iterations else "stopped"

    def recorded_loss(self, index: int) -> float:
        """The loss recorded for iteration ``index`` (one element read while its row is on the device)."""
        row = index - self._host_rows
        if row >= 0:
            return float(self.history[row, 1])
        return float(np.concatenate(self._host_history)[index, 1])

    def history_array(self) -> np.ndarray:
        """The rows recorded so far (one device read), float64; the iteration column exact."""
        on_device = self.iteration - self._host_rows  # none at the start: no read (a kernel the start compiles)
        recent = self.history.to_numpy()[:on_device] if on_device else np.zeros((0, len(self.columns)), np.float32)
        rows = np.concatenate(self._host_history + [recent])
        rows = rows.astype(np.float64)
        rows[:, 0] = np.arange(len(rows))  # float32 holds whole numbers exactly only up to 2^24
        return rows

    def _values_at(self, free_values: np.ndarray) -> dict[str, np.ndarray]:
        out, i = {}, 0
        for r in self.free:
            out[r.path] = np.asarray(free_values[i : i + r.kind.size], dtype=np.float64)
            i += r.kind.size
        return out

    def result(self, seconds: float = 0.0) -> FitResult:
        guard = self.optimizer.read_state()
        last = self.dev.values()
        best = self._values_at(self.optimizer.best.to_numpy()) if guard["best_iteration"] >= 0 else last
        return FitResult(
            scene=with_values(self.scene, best),
            values=best,
            last_values=last,
            start=self.start,
            columns=self.columns,
            history=self.history_array(),
            final_images=self.integrator.views_numpy(),
            view_names=[c.name for c in self.scene.cameras],
            backend=backend.current().name,
            seconds=seconds,
            settings=self.settings,
            best_iteration=guard["best_iteration"],
            best_loss=guard["best_loss"] if guard["best_iteration"] >= 0 else float("nan"),
            halvings=guard["halvings"],
            stopped=self.ended == "stopped",
            ended=self.ended,
            optimizer=self.method,
        )

    def reset(self, start_values: dict, seed: int, references=None) -> None:
        """Start a new fit with the same device objects: same compiled kernels, same fields, no new
        Taichi SNode tree (a recovery study runs many fits of one scene layout through one Fitter).

        The free parameters take ``start_values`` (projected onto their bounds, unit axes normalised),
        Adam's moments, the divergence guard (halvings, best iterate and loss) and the history start
        over, the iteration counter goes back to 0 and the settings take ``seed``. The result of the fit
        that follows is the one a fresh :class:`Fitter` of the scene with those values would give, but for
        what the device scene fixed when it was built: its ray offset against self-intersection (1e-4 of
        the first scene's size), and a free mesh's BVH topology (the first start's pose; refit every
        render, so only looser).

        Parameters
        ----------
        start_values : dict
            Values keyed by dotted path; a free parameter left out starts where the previous fit started.
            The learning rates and bounds that derive from the start (a rate in proportion to the value,
            the scene's size, a sign kept) are derived again, as a fresh Fitter would.
        seed : int
            The new fit's seed (:attr:`FitSettings.seed`).
        references : optional
            New target images (as the constructor takes them); None keeps the current ones.

        Raises
        ------
        KeyError
            If a path is not a free parameter of this fit.
        ValueError
            If a value has the wrong number of components, the seed is out of range or a reference has
            the wrong count or shape.
        """
        settings = dataclasses.replace(self.settings, seed=int(seed))  # checks the seed's range
        unknown = [path for path in start_values if path not in self.start]
        if unknown:
            raise KeyError(f"not a free parameter of this fit: {', '.join(unknown)}")
        if references is not None:
            refs = as_references(self.scene, references)
            self.loss.set_reference([r.linear for r in refs], clamp=[r.low_dynamic_range for r in refs])
            self.references = refs
        scene = with_values(self.scene, {path: np.asarray(v, dtype=np.float64) for path, v in start_values.items()}) \
            if start_values else self.scene
        free = resolve_all(scene)  # the learning rates and bounds a fresh fit from these values would get
        self.dev.set_values({r.path: r.start for r in free})
        if self.integrator.primary is not None:  # the sets of the new seed, as a fresh fit would have them
            self.integrator.primary.reseed(primary_seeds(settings.seed, self.integrator.primary.sets))
            self._traced = [0] * self.integrator.primary.sets
        lr, lower, upper = self._rates(free)  # the optimiser's fields rewritten in place, its state zeroed,
        if self.method == "lm":             # the start projected onto the bounds: the best values so far
            self.optimizer.restart(lower, upper, self._steps(scene, free))
        else:
            self.optimizer.restart(lr, lower, upper)
        self.settings, self.scene, self.free = settings, scene, free
        self.start = self.dev.values()
        self._host_history, self._host_rows = [], 0
        self.iteration = 0
        self.stop_requested = False
        self.converged = False  # the stop criterion starts over, with the scales of the new start
        self._fixed, self._floor = scales(self.free, scene_size(scene))

    # =============================================================================================
    # Checkpoints: everything needed to continue as if never stopped
    # =============================================================================================

    def checkpoint(self) -> dict[str, np.ndarray]:
        """The fit's state as host arrays: iteration, pool, optimiser, history so far."""
        return {
            "iteration": np.array(self.iteration, dtype=np.int64),
            "pool": self.dev.pool_values(),
            "history": self.history_array().astype(np.float32),
            "columns": np.array(self.columns),
            **self.optimizer.state_arrays(),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Continue from a :meth:`checkpoint` of a fit of the same scene and settings.

        Raises
        ------
        CheckpointMismatch
            If the checkpoint lacks one of :data:`CHECKPOINT_ARRAYS`, does not fit this scene (other free
            parameters, another pool size, arrays of other shapes) or holds more iterations than the
            settings ask for.
        """
        missing = [name for name in (*CHECKPOINT_ARRAYS, *self.optimizer.STATE_ARRAYS) if name not in state]
        if missing:
            raise CheckpointMismatch(f"the checkpoint lacks the array(s) {', '.join(repr(m) for m in missing)}")
        if [str(c) for c in np.asarray(state["columns"]).ravel()] != self.columns:
            raise CheckpointMismatch("the checkpoint frees other parameters than the scene's 'optimize' section")
        pool = np.asarray(state["pool"], dtype=np.float32)
        if pool.shape != (self.dev.layout.size,):
            raise CheckpointMismatch("the checkpoint was made for a different scene")
        iteration = np.asarray(state["iteration"])
        if iteration.shape != () or not np.issubdtype(iteration.dtype, np.integer) or int(iteration) < 0:
            raise CheckpointMismatch("the checkpoint's 'iteration' is not a count of iterations")
        iteration = int(iteration)
        if iteration > self.settings.iterations:
            raise CheckpointMismatch(f"the checkpoint is at iteration {iteration}, past --iterations {self.settings.iterations}")
        history = np.asarray(state["history"])
        shapes = {"history": (history.shape, (iteration, len(self.columns)))}
        for name, want in self.optimizer.state_shapes().items():
            shapes[name] = (np.asarray(state[name]).shape, want)
        wrong = [name for name, (got, want) in shapes.items() if tuple(got) != tuple(want) and not
                 (want == () and int(np.prod(got)) == 1)]
        if wrong:
            raise CheckpointMismatch(f"the checkpoint's array(s) {', '.join(repr(w) for w in wrong)} have the wrong shape")
        self.dev.set_pool(pool)
        self.optimizer.load_state_arrays(state)
        saved = np.asarray(state["history"], dtype=np.float32)[:iteration]
        chunk = self.history.shape[0]
        kept = ((iteration - 1) // chunk) * chunk if iteration else 0  # rows before the last (partial) chunk
        self._host_history = [saved[:kept]] if kept else []
        self._host_rows = kept
        rows = np.zeros(self.history.shape, dtype=np.float32)
        rows[: iteration - kept] = saved[kept:]
        self.history.from_numpy(rows)
        self.iteration = iteration
        cache = self.integrator.primary
        if cache is not None:  # the sets as the uninterrupted fit held them when this iteration started
            seeds, self._traced = primary_sets_before(self.settings.seed, cache.sets, self.settings.primary_refresh,
                                                      iteration, self._forward_set)
            cache.reseed(seeds)
        self.converged = False
        self._check_converged()  # a fit that had converged when it was saved has still converged


def fit(
    scene: Scene,
    references,
    settings: FitSettings = FitSettings(),
    callback: Callable[[Iteration], None] | None = None,
    resume: dict[str, np.ndarray] | None = None,
    started: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> FitResult:
    """Fit the scene's free parameters to ``reference`` by gradient descent.

    Parameters
    ----------
    scene : Scene
        Starting values and ``optimize`` entries.
    references : Reference or sequence of Reference
        From :func:`raydiff.images.read_reference` (same size as the film): one per camera, in the order
        of ``scene.cameras`` (a single Reference for a scene with one camera). The loss sums over the
        views, each weighted by its camera's ``weight``.
    settings : FitSettings
    callback : callable, optional
        Called with an :class:`Iteration` after every iteration (to save frames, show progress, or
        ``stop()`` the fit).
    resume : dict, optional
        A :meth:`Fitter.checkpoint` to continue from (same scene, reference and settings): the result is
        the one the uninterrupted fit would have given.
    started : callable, optional
        Called once before the first iteration (after ``resume`` is restored) with the fit's state as a
        :meth:`Fitter.checkpoint`, e.g. to save it: a fit stopped before its first iteration can then be
        continued all the same.

    Returns
    -------
    FitResult
    """
    backend.current()  # initialise Taichi (auto) if the caller has not chosen a backend
    start = time.perf_counter()
    fitter = Fitter(scene, references, settings)
    if resume is not None:
        fitter.restore(resume)
    if started is not None:
        started(fitter.checkpoint())
    while not fitter.done:
        fitter.step()
        if callback is not None:
            callback(Iteration(fitter, fitter.iteration - 1))
    return fitter.result(time.perf_counter() - start)
