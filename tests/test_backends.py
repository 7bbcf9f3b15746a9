"""Backends: Vulkan gives the CPU's images and gradients; asking for a missing backend is an error.

The gradients compared cover lights and albedos (a sphere on a floor), and the kinds issue 7 added: a
camera's position, a sphere's centre and radius, a directional light's direction and irradiance, a mesh's
translation, rotation axis and angle, and a second, weighted camera (the view-filling scenes of
tests/scene_builders.py), and issue 9's rough conductors (a sphere's, a quad's and a mesh's roughness and
specular colours, and the lights' positions through the GGX BSDF), rough plastics (diffuse and specular
colours and the lights' positions through both lobes and the transmittance tables) and mirrors (a light, a mirror's colour
and plane, an albedo and the camera seen through a mirror: the reflected ray's records and its
differentiated recomputation), and textures (every texel of a small one, and a textured sphere's
centre, whose gradient goes through its uv).

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
from raydiff.kernels.boundary import make_boundary
from raydiff.kernels.integrator import Integrator
from raydiff.optim.loss import ImageLoss
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes
import texture_scenes

SEED = 7


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


#: The scenes whose renders and gradients are compared, by test id. Besides the lights and the albedo:
#: the camera's position, a sphere's centre and radius and a sun's direction and irradiance (the
#: view-filling sphere), a mesh's pose (the view-filling mesh face), and two weighted views of a wall with
#: the second camera's position and the wall's corner free (the cameras' layout in the pool, the weights).
def _edges_scene():
    """The sphere over a floor of tests/test_boundary.py, where outlines and a shadow move: the light's
    position, the sphere's centre and the camera's position free (the boundary terms are compared too)."""
    from test_boundary import ball_scene

    return scenes.with_optimize(ball_scene(), "lights.key.position", "objects.ball.center", "camera.position")


def _mirror_scene():
    """The mirror of tests/test_gradients.py's ``mirror_*`` cases with every path free but the mirror's
    corner, two of whose components have an exactly zero gradient (they move the mirror in its plane)."""
    paths = [p for p in scenes.MIRROR_PATHS if p != "objects.mirror.origin"]
    return scenes.with_optimize(scenes.mirror_ceiling_scene(), *paths)


SCENES = {
    "lights_and_albedo": _scene,
    "edges": _edges_scene,
    "camera_sphere_sun": scenes.view_filling_sphere_scene,
    "mesh_pose": _mesh_pose_scene,
    "two_views": scenes.view_filling_two_view_wall_scene,
    "glossy": scenes.glossy_floating_scene,
    "plastic": scenes.plastic_floating_scene,
    "mirror": _mirror_scene,
    "texels": texture_scenes.free_texels_scene,
    "textured_sphere": texture_scenes.moving_textured_sphere_scene,
}


def _render_and_gradient(scene, reference: np.ndarray | None):
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
def cpu_results():
    """Every scene of :data:`SCENES` on the CPU, before any test switches to Vulkan."""
    raydiff.init("cpu")
    return {name: _render_and_gradient(build(), None) for name, build in SCENES.items()}


@pytest.fixture(scope="module")
def vulkan_cache():
    return {}


def _vulkan_results(cache, cpu_results, name):
    """Computed once per scene, after the ``vulkan`` fixture has switched the backend."""
    if name not in cache:
        assert raydiff.backend.current().name == "vulkan"
        cache[name] = _render_and_gradient(SCENES[name](), cpu_results[name][1])
    return cache[name]


@pytest.mark.vulkan
@pytest.mark.parametrize("name", SCENES)
def test_vulkan_render_matches_cpu(cpu_results, vulkan, vulkan_cache, name):
    cpu_image = cpu_results[name][0]
    vk_image = _vulkan_results(vulkan_cache, cpu_results, name)[0]
    assert vk_image.shape == cpu_image.shape
    assert cpu_image.max() > 0.1
    diff = np.abs(vk_image - cpu_image).max()
    assert diff < 1e-4 * cpu_image.max(), f"max |vulkan - cpu| = {diff:.3g} (image max {cpu_image.max():.3g})"


@pytest.mark.vulkan
@pytest.mark.parametrize("name", SCENES)
def test_vulkan_gradients_match_cpu(cpu_results, vulkan, vulkan_cache, name):
    cpu_grad, cpu_loss = cpu_results[name][2], cpu_results[name][3]
    _, _, vk_grad, vk_loss, _ = _vulkan_results(vulkan_cache, cpu_results, name)
    assert np.all(cpu_grad != 0.0)
    rel = np.abs(vk_grad - cpu_grad) / np.abs(cpu_grad)
    # With shadow edges and outlines in view, a sample within rounding of an edge may hit differently.
    assert rel.max() < (5e-3 if name == "edges" else 1e-3), f"vulkan {vk_grad} vs cpu {cpu_grad} (max relative difference {rel.max():.2e})"
    assert vk_loss == pytest.approx(cpu_loss, rel=1e-4)


@pytest.mark.vulkan
def test_vulkan_boundary_terms_match_cpu(cpu_results, vulkan, vulkan_cache):
    """The edge-sampling pass (no adstack, dynamic indices into the pool) gives the CPU's boundary terms.
    Samples within rounding of an edge may land on different sides on the two backends: 1% relative L2."""
    cpu_edges = cpu_results["edges"][4]
    vk_edges = _vulkan_results(vulkan_cache, cpu_results, "edges")[4]
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
    lm._equations()
    lm._restore()
    assert lm.shown_loss[None] == kept, "the equations kernel overwrote the kept loss"
    sums = lm.normal.to_numpy()
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
