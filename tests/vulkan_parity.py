"""The Vulkan-against-CPU comparison that tests/test_backends*.py share, each file for its own scenes.

The Vulkan scenes are spread over a few test modules (by scene family) so that pytest-xdist, which runs a
module whole on one worker (``--dist loadfile``), can run them side by side: in one module they were the
suite's longest (every scene compiles its kernels twice, for the CPU and for Vulkan).

A module using this defines ``SCENES`` (test id -> scene builder), imports the fixtures and the tests
below into its namespace (pytest collects them there), and parametrizes ``name`` over its scenes::

    from vulkan_parity import cpu_results, vulkan_cache, test_vulkan_render_matches_cpu, ...

    def pytest_generate_tests(metafunc):
        parametrize_scenes(metafunc, SCENES)

The CPU results of a module's scenes are computed first (a module-scoped fixture, kept as numpy arrays,
which survive Taichi's reset), then the tests switch to Vulkan. Later modules request the ``cpu``
fixture again, which re-initialises Taichi on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import raydiff
import raydiff.backend
from raydiff.device.scene import DeviceScene
from raydiff.kernels.boundary import make_boundary
from raydiff.kernels.integrator import Integrator
from raydiff.optim.loss import ImageLoss
from raydiff.scene.model import Scene
from raydiff.scene.parameters import resolve_all

SEED = 7


def parametrize_scenes(metafunc, scenes: dict[str, Callable[[], Scene]]) -> None:
    """Parametrizes a test's ``name`` argument over the test ids of ``scenes`` (a module's ``SCENES``)."""
    if "name" in metafunc.fixturenames:
        metafunc.parametrize("name", list(scenes))


def render_and_gradient(scene, reference: np.ndarray | None):
    """On the current backend: the images of every view at SEED, (views, height, width, 3), and, against
    ``reference`` (default: 0.6 x the images), the gradient of every free component of the loss a fit
    uses (each view's MSE times its camera's weight, summed), and the loss."""
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev)
    integrator.forward(SEED)
    image = np.stack(integrator.views_numpy())
    if reference is None:
        reference = (0.6 * image).astype(np.float32)
    loss = ImageLoss(integrator.image, reference, "mse", clamp=False, weights=[c.weight for c in scene.cameras])
    integrator.zero_grad()
    integrator.forward(SEED)
    loss.forward()
    loss.backward()
    integrator.backward(SEED)
    gradient = dev.pool.grad.to_numpy()[dev.free_offsets]
    boundary = make_boundary(integrator, samples_per_edge=256)
    edges = None
    if boundary is not None:
        dev.pool.grad.fill(0.0)
        boundary.backward(SEED)
        edges = dev.pool.grad.to_numpy()[dev.free_offsets]
    return image, reference, gradient, loss.read(), edges


@pytest.fixture(scope="module")
def cpu_results(request):
    """Every scene of the module's ``SCENES`` on the CPU, before any test switches to Vulkan."""
    raydiff.init("cpu")
    return {name: render_and_gradient(build(), None) for name, build in request.module.SCENES.items()}


@pytest.fixture(scope="module")
def vulkan_cache():
    return {}


def vulkan_results(cache, cpu_results, scenes, name):
    """Computed once per scene, after the ``vulkan`` fixture has switched the backend."""
    if name not in cache:
        assert raydiff.backend.current().name == "vulkan"
        cache[name] = render_and_gradient(scenes[name](), cpu_results[name][1])
    return cache[name]


@pytest.mark.vulkan
def test_vulkan_render_matches_cpu(request, cpu_results, vulkan, vulkan_cache, name):
    cpu_image = cpu_results[name][0]
    vk_image = vulkan_results(vulkan_cache, cpu_results, request.module.SCENES, name)[0]
    assert vk_image.shape == cpu_image.shape
    assert cpu_image.max() > 0.1
    diff = np.abs(vk_image - cpu_image).max()
    assert diff < 1e-4 * cpu_image.max(), f"max |vulkan - cpu| = {diff:.3g} (image max {cpu_image.max():.3g})"


@pytest.mark.vulkan
def test_vulkan_gradients_match_cpu(request, cpu_results, vulkan, vulkan_cache, name):
    cpu_grad, cpu_loss = cpu_results[name][2], cpu_results[name][3]
    _, _, vk_grad, vk_loss, _ = vulkan_results(vulkan_cache, cpu_results, request.module.SCENES, name)
    assert np.all(cpu_grad != 0.0)
    rel = np.abs(vk_grad - cpu_grad) / np.abs(cpu_grad)
    # With shadow edges and outlines in view, a sample within rounding of an edge may hit differently.
    assert rel.max() < (5e-3 if name == "edges" else 1e-3), f"vulkan {vk_grad} vs cpu {cpu_grad} (max relative difference {rel.max():.2e})"
    assert vk_loss == pytest.approx(cpu_loss, rel=1e-4)
