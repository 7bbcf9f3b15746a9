"""The fit loop: the only place that orders render, loss, gradient and optimiser step.

One iteration with sample seed s_i (a fresh one each iteration, derived from the fit's seed):

    integrator.forward(s_i) -> loss.forward() -> [history row] -> loss.backward()
    -> integrator.backward(s_i) -> adam.step()

Everything stays on the device: the history (loss and every free component, one row per iteration) is
written by a kernel into a field and read back only when somebody asks (a callback, or the end of the
fit). Kernels are compiled on the first iteration and reused after.
"""


import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import taichi as ti

from . import backend
from .device import DeviceScene
from .images import Reference
from .integrator import Integrator
from .loss import ImageLoss
from .optim import Adam
from .parameters import Resolved, resolve_all, with_values
from .scene import Scene


def iteration_seed(seed: int, iteration: int) -> int:
    """The sample seed of one iteration: distinct per iteration, reproducible from the fit's seed."""
    return (int(seed) * 0x9E3779B1 + int(iteration) * 0x85EBCA77 + 1) & 0xFFFFFFFF


@dataclass(frozen=True)
class FitSettings:
    """How to fit.

    Parameters
    ----------
    iterations : int
        Optimiser steps.
    lr : float, optional
        If given, the learning rate of every free parameter (overrides the scene's and the defaults).
    lr_decay : float
        Every learning rate is multiplied by ``lr_decay ** iteration`` (1: constant).
    spp : int, optional
        Samples per pixel while fitting; defaults to the scene's film.
    seed : int
        The fit's seed; iteration i renders with :func:`iteration_seed` (seed, i).
    loss : {"mse", "l1"}
    """

    iterations: int = 200
    lr: float | None = None
    lr_decay: float = 1.0
    spp: int | None = None
    seed: int = 0
    loss: str = "mse"

    def __post_init__(self):
        if self.iterations < 0:
            raise ValueError("iterations must be >= 0")
        if self.lr is not None and not self.lr > 0:
            raise ValueError("lr must be positive")
        if not 0 < self.lr_decay <= 1:
            raise ValueError("lr_decay must be in (0, 1]")
        if self.spp is not None and self.spp < 1:
            raise ValueError("spp must be at least 1")


class Iteration:
    """What a callback sees after each iteration; every accessor reads the device, so read only what
    you need.

    Attributes
    ----------
    index : int
        The iteration just done (0-based). Its render and loss are for the parameters *before* its step.
    """

    def __init__(self, fitter: "Fitter", index: int):
        self._fitter, self.index = fitter, index

    @property
    def loss(self) -> float:
        return self._fitter.loss.read()

    def image(self) -> np.ndarray:
        """This iteration's render, (height, width, 3) linear RGB."""
        return self._fitter.integrator.to_numpy()

    def values(self) -> dict[str, np.ndarray]:
        """The free parameters after this iteration's step, keyed by dotted path."""
        return self._fitter.dev.values()


@dataclass
class FitResult:
    """The outcome of a fit.

    Attributes
    ----------
    scene : Scene
        The scene with the fitted values.
    values : dict
        Final value of every free parameter, keyed by dotted path.
    start : dict
        Their starting values.
    columns : list of str
        ``["iteration", "loss", "lights.key.position[0]", ...]``.
    history : np.ndarray
        One row per iteration, ``len(columns)`` wide: the loss and the values that gave it.
    final_image : np.ndarray
        The last iteration's render (linear RGB).
    backend : str
    seconds : float
        Wall time of the loop, compilation included.
    """

    scene: Scene
    values: dict[str, np.ndarray]
    start: dict[str, np.ndarray]
    columns: list[str]
    history: np.ndarray
    final_image: np.ndarray
    backend: str
    seconds: float = 0.0
    settings: FitSettings = field(default_factory=FitSettings)

    @property
    def final_loss(self) -> float:
        return float(self.history[-1, 1]) if len(self.history) else float("nan")


class Fitter:
    """Owns the device objects of one fit; :func:`fit` is the convenient front door.

    Parameters
    ----------
    scene : Scene
        The starting scene; its ``optimize`` entries say what is free.
    reference : Reference
        The target image, already checked to be the film's size.
    settings : FitSettings
    """

    def __init__(self, scene: Scene, reference: Reference, settings: FitSettings = FitSettings()):
        self.scene, self.settings = scene, settings
        self.free: list[Resolved] = resolve_all(scene)
        if not self.free:
            raise ValueError("the scene frees no parameter: add an 'optimize' section")
        self.dev = DeviceScene(scene, self.free)
        self.integrator = Integrator(self.dev, spp=settings.spp)
        self.loss = ImageLoss(self.integrator.image, reference.linear, settings.loss, reference.low_dynamic_range)
        lr = np.concatenate([np.full(r.kind.size, settings.lr or r.lr) for r in self.free])
        lower = np.concatenate([np.full(r.kind.size, r.lower) for r in self.free])
        upper = np.concatenate([np.full(r.kind.size, r.upper) for r in self.free])
        self.adam = Adam(self.dev.pool, self.dev.free_offsets, lr, lower, upper)
        self.adam.project()
        self.start = self.dev.values()
        self.columns = ["iteration", "loss"] + [c for r in self.free for c in r.component_names()]
        self.history = ti.field(ti.f32, shape=(max(settings.iterations, 1), len(self.columns)))
        self.iteration = 0
        self._record = self._make_recorder()

    def _make_recorder(self):
        history, value, pool, index = self.history, self.loss.value, self.dev.pool, self.adam.index
        n = self.adam.n

        @ti.kernel
        def record(row: ti.i32):
            for i in range(n):
                history[row, 2 + i] = pool[index[i]]
            history[row, 0] = ti.cast(row, ti.f32)
            history[row, 1] = value[None]

        return record

    def step(self) -> None:
        """One iteration: render, loss, gradient, Adam step."""
        i, integ = self.iteration, self.integrator
        seed = iteration_seed(self.settings.seed, i)
        integ.zero_grad()
        integ.forward(seed)
        self.loss.forward()
        self._record(i)
        self.loss.backward()
        integ.backward(seed)
        self.adam.step(self.settings.lr_decay**i)
        self.iteration += 1

    def history_array(self) -> np.ndarray:
        """The rows recorded so far (one device read)."""
        return self.history.to_numpy()[: self.iteration].astype(np.float64)

    def result(self, seconds: float = 0.0) -> FitResult:
        values = self.dev.values()
        return FitResult(
            scene=with_values(self.scene, values),
            values=values,
            start=self.start,
            columns=self.columns,
            history=self.history_array(),
            final_image=self.integrator.to_numpy(),
            backend=backend.current().name,
            seconds=seconds,
            settings=self.settings,
        )


def fit(
    scene: Scene,
    reference: Reference,
    settings: FitSettings = FitSettings(),
    callback: Callable[[Iteration], None] | None = None,
) -> FitResult:
    """Fit the scene's free parameters to ``reference`` by gradient descent.

    Parameters
    ----------
    scene : Scene
        Starting values and ``optimize`` entries.
    reference : Reference
        From :func:`raydiff.images.read_reference` (same size as the film).
    settings : FitSettings
    callback : callable, optional
        Called with an :class:`Iteration` after every iteration (e.g. to save frames or show progress).

    Returns
    -------
    FitResult
    """
    backend.current()  # initialise Taichi (auto) if the caller has not chosen a backend
    start = time.perf_counter()
    fitter = Fitter(scene, reference, settings)
    for _ in range(settings.iterations):
        fitter.step()
        if callback is not None:
            callback(Iteration(fitter, fitter.iteration - 1))
    return fitter.result(time.perf_counter() - start)
