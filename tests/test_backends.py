"""Backends: Vulkan gives the CPU's images and gradients; asking for a missing backend is an error.

This is the only module that leaves the CPU backend. The CPU results are computed first (a module-scoped
fixture, kept as numpy arrays, which survive Taichi's reset), then the tests switch to Vulkan. Later
modules request the ``cpu`` fixture again, which re-initialises Taichi on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import raydiff
import raydiff.backend
from raydiff.backend import Backend
from raydiff.device.scene import DeviceScene
from raydiff.errors import BackendError
from raydiff.kernels.integrator import Integrator
from raydiff.optim.loss import ImageLoss
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes

SEED = 7


def _scene():
    """A sphere on a floor with a hard shadow, light position, intensity and sphere albedo free."""
    return scenes.with_optimize(
        scenes.fit_scene(width=48, height=36, spp=4),
        "lights.key.position",
        "lights.key.intensity",
        "objects.ball.albedo",
    )


def _render_and_gradient(reference: np.ndarray | None):
    """On the current backend: the image at SEED and, against ``reference`` (default: 0.6 x the
    image), the MSE gradient of every free component."""
    scene = _scene()
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev)
    integrator.forward(SEED)
    image = integrator.to_numpy()
    if reference is None:
        reference = (0.6 * image).astype(np.float32)
    loss = ImageLoss(integrator.image, reference, "mse", clamp=False)
    integrator.zero_grad()
    integrator.forward(SEED)
    loss.forward()
    loss.backward()
    integrator.backward(SEED)
    return image, reference, dev.pool.grad.to_numpy()[dev.free_offsets], loss.read()


@pytest.fixture(scope="module")
def cpu_results():
    raydiff.init("cpu")
    return _render_and_gradient(None)


@pytest.fixture(scope="module")
def vulkan_cache():
    return {}


def _vulkan_results(cache, cpu_results):
    """Computed once, after the ``vulkan`` fixture has switched the backend."""
    if "results" not in cache:
        assert raydiff.backend.current().name == "vulkan"
        cache["results"] = _render_and_gradient(cpu_results[1])
    return cache["results"]


@pytest.mark.vulkan
def test_vulkan_render_matches_cpu(cpu_results, vulkan, vulkan_cache):
    cpu_image = cpu_results[0]
    vk_image = _vulkan_results(vulkan_cache, cpu_results)[0]
    assert vk_image.shape == cpu_image.shape
    assert cpu_image.max() > 0.1
    diff = np.abs(vk_image - cpu_image).max()
    assert diff < 1e-4 * cpu_image.max(), f"max |vulkan - cpu| = {diff:.3g} (image max {cpu_image.max():.3g})"


@pytest.mark.vulkan
def test_vulkan_gradients_match_cpu(cpu_results, vulkan, vulkan_cache):
    cpu_grad, cpu_loss = cpu_results[2], cpu_results[3]
    _, _, vk_grad, vk_loss = _vulkan_results(vulkan_cache, cpu_results)
    assert np.all(cpu_grad != 0.0)
    rel = np.abs(vk_grad - cpu_grad) / np.abs(cpu_grad)
    assert rel.max() < 1e-3, f"vulkan {vk_grad} vs cpu {cpu_grad} (max relative difference {rel.max():.2e})"
    assert vk_loss == pytest.approx(cpu_loss, rel=1e-4)


def test_missing_cuda_is_an_error():
    """Asking for CUDA where there is none raises, never falls back silently."""
    try:
        raydiff.init("cuda")
    except BackendError as err:
        assert "cuda" in str(err)
    else:
        pytest.skip("CUDA is available here")


def test_unknown_backend_is_an_error():
    with pytest.raises(BackendError, match="unknown backend 'metal'"):
        raydiff.init("metal")


def test_auto_takes_a_working_backend():
    backend = raydiff.init("auto")
    assert isinstance(backend, Backend)
    assert backend.name in ("cuda", "vulkan", "cpu")
    assert backend.requested == "auto"
    order = ("cuda", "vulkan", "cpu")
    assert backend.skipped == order[: order.index(backend.name)]
    assert raydiff.backend.current() is backend
    assert backend.describe().startswith(backend.name)
