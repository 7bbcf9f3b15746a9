"""Backends: Vulkan gives the CPU's images and gradients; asking for a missing backend is an error.

The gradients compared here cover lights and albedos (a sphere on a floor), the boundary terms (the same
sphere, its outline and shadow moving), and the kinds issue 7 added: a camera's position, a sphere's centre
and radius, a directional light's direction and irradiance, a mesh's translation, rotation axis and angle,
and a second, weighted camera (the view-filling scenes of tests/scene_builders.py). Issue 9's rough
conductors and rough plastics are compared in tests/test_backends_rough.py, its mirrors and the textures in
tests/test_backends_mirror_textures.py: three modules, so that pytest-xdist runs them side by side (see
tests/vulkan_parity.py, which they share).

These are the only modules that leave the CPU backend. The CPU results are computed first (a module-scoped
fixture, kept as numpy arrays, which survive Taichi's reset), then the tests switch to Vulkan. Later
modules request the ``cpu`` fixture again, which re-initialises Taichi on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import raydiff
import raydiff.backend
from raydiff.backend import Backend
from raydiff.errors import BackendError

import scene_builders as scenes
from vulkan_parity import (  # noqa: F401 (fixtures and tests, collected here)
    SEED,
    cpu_results,
    parametrize_scenes,
    test_vulkan_gradients_match_cpu,
    test_vulkan_render_matches_cpu,
    vulkan_cache,
    vulkan_results,
)


def _scene():
    """A sphere on a floor with a hard shadow, light position, intensity and sphere albedo free."""
    return scenes.with_optimize(
        scenes.fit_scene(width=48, height=36, spp=4),
        "lights.key.position",
        "lights.key.intensity",
        "objects.ball.albedo",
    )


def _mesh_pose_scene():
    """The view-filling mesh face of tests/test_gradients.py, its translation, rotation axis and angle free
    (not its scale: two of its components have a zero gradient, rounding noise on either backend)."""
    return scenes.with_optimize(
        scenes.view_filling_mesh_scene(),
        "objects.slab.translate",
        "objects.slab.rotate.axis",
        "objects.slab.rotate.angle",
    )


def _edges_scene():
    """The sphere over a floor of tests/test_boundary.py, where outlines and a shadow move: the light's
    position, the sphere's centre and the camera's position free (the boundary terms are compared too)."""
    from test_boundary import ball_scene

    return scenes.with_optimize(ball_scene(), "lights.key.position", "objects.ball.center", "camera.position")


#: The scenes whose renders and gradients are compared, by test id. Besides the lights and the albedo
#: and the moving edges:
#: the camera's position, a sphere's centre and radius and a sun's direction and irradiance (the
#: view-filling sphere), a mesh's pose (the view-filling mesh face), and two weighted views of a wall with
#: the second camera's position and the wall's corner free (the cameras' layout in the pool, the weights).
SCENES = {
    "lights_and_albedo": _scene,
    "edges": _edges_scene,
    "camera_sphere_sun": scenes.view_filling_sphere_scene,
    "mesh_pose": _mesh_pose_scene,
    "two_views": scenes.view_filling_two_view_wall_scene,
}


def pytest_generate_tests(metafunc):
    parametrize_scenes(metafunc, SCENES)


@pytest.mark.vulkan
def test_vulkan_boundary_terms_match_cpu(cpu_results, vulkan, vulkan_cache):
    """The edge-sampling pass (no adstack, dynamic indices into the pool) gives the CPU's boundary terms.
    Samples within rounding of an edge may land on different sides on the two backends: 1% relative L2."""
    cpu_edges = cpu_results["edges"][4]
    vk_edges = vulkan_results(vulkan_cache, cpu_results, SCENES, "edges")[4]
    assert np.linalg.norm(cpu_edges) > 0.0
    rel = np.linalg.norm(vk_edges - cpu_edges) / np.linalg.norm(cpu_edges)
    assert rel < 1e-2, f"vulkan {vk_edges} vs cpu {cpu_edges} (relative difference {rel:.2e})"


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


def _levenberg_sums(scene) -> tuple[np.ndarray, float, float]:
    """On the current backend: Levenberg-Marquardt's first sums ``[A | g | θ]`` for ``scene`` against
    0.8 x its own render, and the loss before and after a 3-iteration fit by it; checks on the way that
    the kept loss survives the sums' kernels and that the loss the fit shows is its last history row's."""
    from raydiff.io.images import Reference
    from raydiff.optim.fit import FitSettings, Fitter

    truth = raydiff.render(scene, spp=16, seed=SEED)
    reference = Reference("<0.8 x render>", (0.8 * truth).astype(np.float32), low_dynamic_range=False)
    fitter = Fitter(scene, reference, FitSettings(iterations=3, tol=0, optimizer="lm"))
    lm = fitter.optimizer
    lm.evaluate(SEED)
    lm._keep()
    kept = lm.loss.read()
    lm._jacobian(0, SEED + 1)
    lm._jacobian(1, SEED + 2)
    sums = lm._equations()
    lm._restore()
    assert lm.shown_loss[None] == kept, "the equations kernel overwrote the kept loss"
    while not fitter.done:
        fitter.step()
    history = fitter.history_array()
    assert fitter.loss.read() == np.float32(history[-1, 1]), "the loss shown after a step is not its row's"
    assert fitter.recorded_loss(fitter.iteration - 1) == np.float32(history[-1, 1])
    return sums, float(history[0, 1]), float(history[-1, 1])


@pytest.fixture(scope="module")
def levenberg_cpu():
    raydiff.init("cpu")
    return _levenberg_sums(_scene())


@pytest.mark.vulkan
def test_vulkan_levenberg_marquardt_matches_cpu(levenberg_cpu, vulkan):
    """Levenberg-Marquardt's kernels (the Jacobians' renders, the float64 sums) run on Vulkan and give
    the CPU's sums; a short fit there lowers the loss."""
    cpu_sums = levenberg_cpu[0]
    vk_sums, first, last = _levenberg_sums(_scene())
    rel = np.abs(vk_sums - cpu_sums) / (np.abs(cpu_sums).max(axis=1, keepdims=True) + 1e-30)
    assert rel.max() < 1e-3, f"vulkan {vk_sums} vs cpu {cpu_sums} (max relative difference {rel.max():.2e})"
    assert last < first
