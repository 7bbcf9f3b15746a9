"""Gradients of the image loss against central finite differences, for every free-parameter kind.

In Mitsuba 3's test style, each case is a small config: a name, a scene builder, the dotted path of the
parameter and a finite-difference step. The pipeline is the real one:

    integrator.forward(seed) -> ImageLoss.forward -> ImageLoss.backward -> integrator.backward(seed)

and the gradient is read from ``pool.grad`` at ``dev.free_offsets``. The finite difference moves one pool
entry by +-eps with ``dev.set_pool``, renders with the *same* seed (common random numbers: the same camera
rays on both sides) and evaluates the same MSE against the same fixed reference, in float64 on the host so
that summing thousands of float32 terms does not drown a small difference.

The scenes are chosen so that the image is smooth in every tested parameter: no shadow edge moves with a
light (objects float in front of nothing, lit from the camera's side, or a lone quad with no occluder), so
the visibility term that the integrator does not differentiate is really zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from raydiff.device.scene import DeviceScene
from raydiff.kernels.integrator import Integrator
from raydiff.optim.loss import ImageLoss
from raydiff.scene.parameters import resolve_all
from raydiff.scene.model import Scene

import scene_builders as scenes

SEED = 3
RTOL = 0.01  # 1% relative, per component


@dataclass(frozen=True)
class Config:
    """One gradient check.

    Attributes
    ----------
    name : str
        The test id.
    scene : callable
        Builds the scene (its ``optimize`` section must free ``path``).
    path : str
        The dotted path of the parameter checked, e.g. ``lights.key.position``.
    eps : float
        The finite-difference step; if ``relative``, times max(1, |value|) per component.
    relative : bool
    max_batch_samples : int, optional
        Render in batches of this many samples (None: one batch).
    """

    name: str
    scene: Callable[[], Scene]
    path: str
    eps: float
    relative: bool = False
    max_batch_samples: int | None = None

    def __repr__(self) -> str:
        return self.name


FLOATING_PIXELS = 48 * 36  # scenes.floating_scene's film
CONFIGS = [
    # Two lights (the shading loop is unrolled with ti.static) and a sphere, a quad and a mesh.
    Config("key_position", scenes.floating_scene, "lights.key.position", 1e-2, relative=True),
    Config("key_intensity", scenes.floating_scene, "lights.key.intensity", 1e-2),
    Config("fill_position", scenes.floating_scene, "lights.fill.position", 1e-2, relative=True),
    Config("fill_intensity", scenes.floating_scene, "lights.fill.intensity", 1e-2),
    Config("sphere_albedo", scenes.floating_scene, "objects.ball.albedo", 1e-2),
    Config("quad_albedo", scenes.floating_scene, "objects.panel.albedo", 1e-2),
    Config("mesh_albedo", scenes.floating_scene, "objects.box.albedo", 1e-2),
    # The same scene in 4 batches of 1 sample per pixel: the backward pass re-traces 3 of them.
    Config("batched_key_position", scenes.floating_scene, "lights.key.position", 1e-2, True, FLOATING_PIXELS),
    Config("batched_fill_intensity", scenes.floating_scene, "lights.fill.intensity", 1e-2, False, FLOATING_PIXELS),
    Config("batched_mesh_albedo", scenes.floating_scene, "objects.box.albedo", 1e-2, False, FLOATING_PIXELS),
    # One light over one quad, no occluder at all.
    Config("lone_position", scenes.lone_floor_scene, "lights.key.position", 1e-2, relative=True),
    Config("lone_intensity", scenes.lone_floor_scene, "lights.key.intensity", 1e-2),
    Config("lone_quad_albedo", scenes.lone_floor_scene, "objects.floor.albedo", 1e-2),
]


class Setup:
    """A scene on the device with its integrator, a fixed reference, and the gradient at the start."""

    def __init__(self, scene: Scene, max_batch_samples: int | None):
        self.free = resolve_all(scene)
        self.dev = DeviceScene(scene, self.free)
        kwargs = {} if max_batch_samples is None else {"max_batch_samples": max_batch_samples}
        self.integrator = Integrator(self.dev, **kwargs)
        self.start = self.dev.pool_values().copy()
        # A fixed reference: the starting render, dimmed (so every parameter has a non-zero gradient).
        self.integrator.forward(SEED)
        self.reference = (0.6 * self.integrator.to_numpy()).astype(np.float32)
        self.loss = ImageLoss(self.integrator.image, self.reference, "mse", clamp=False)
        self.integrator.zero_grad()
        self.integrator.forward(SEED)
        self.loss.forward()
        self.loss.backward()
        self.integrator.backward(SEED)
        self.grad = self.dev.pool.grad.to_numpy().astype(np.float64)

    def offsets(self, path: str) -> np.ndarray:
        """The pool offsets of the components of ``path``."""
        i = 0
        for r in self.free:
            if r.path == path:
                return self.dev.free_offsets[i : i + r.kind.size]
            i += r.kind.size
        raise KeyError(path)

    def mse(self, pool: np.ndarray) -> float:
        self.dev.set_pool(pool)
        self.integrator.forward(SEED)
        diff = self.integrator.to_numpy().astype(np.float64) - self.reference
        return float(np.mean(diff * diff))

    def central_difference(self, k: int, eps: float) -> float:
        plus, minus = self.start.copy(), self.start.copy()
        plus[k] += eps
        minus[k] -= eps
        try:
            return (self.mse(plus) - self.mse(minus)) / (2.0 * eps)
        finally:
            self.dev.set_pool(self.start)


@pytest.fixture(scope="module")
def setups(cpu_backend):
    """Builds (and compiles) each distinct scene and batching once for the whole module."""
    cache: dict = {}

    def get(config: Config) -> Setup:
        key = (config.scene, config.max_batch_samples)
        if key not in cache:
            cache[key] = Setup(config.scene(), config.max_batch_samples)
        return cache[key]

    return get


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_gradient_matches_central_differences(setups, config):
    setup = setups(config)
    for k in setup.offsets(config.path):
        value = float(setup.start[k])
        eps = config.eps * max(1.0, abs(value)) if config.relative else config.eps
        fd = setup.central_difference(int(k), eps)
        ad = setup.grad[k]
        assert fd != 0.0, f"{config.path}: the loss does not depend on pool[{k}] in this scene"
        rel = abs(ad - fd) / abs(fd)
        assert rel < RTOL, f"{config.name} pool[{k}]: autodiff {ad:.6g}, central difference {fd:.6g} ({rel:.2%})"


def test_loss_value_matches_host_mse(setups):
    """The device's ImageLoss agrees with the float64 host MSE used by the finite differences."""
    setup = setups(CONFIGS[0])
    setup.integrator.forward(SEED)
    setup.loss.forward()
    host = setup.mse(setup.start)
    assert setup.loss.read() == pytest.approx(host, rel=1e-5)
