"""The integrator's forward (and batched backward) pass against closed forms and against itself.

Scenes are compiled once per module (Taichi spends seconds per distinct scene): the floor seen from above
and from below serves the closed-form and two-sided tests, moving its (free) light through the pool with
``dev.set_pool``; the shadow scene serves shadows, orientation, seeds and batching. Only free parameters
are moved through the pool: the rest may be compiled in as constants.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from raydiff.device.scene import DeviceScene
from raydiff.kernels.integrator import Integrator
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes

def _pool_with_light(dev: DeviceScene, position) -> np.ndarray:
    """The scene's starting pool with light 0 (which must be free) moved to ``position``."""
    assert "lights.key.position" in [r.path for r in dev.free]
    pool = np.array(dev.layout.values, dtype=np.float32)
    k = dev.layout.of("lights", "key", "position")
    pool[k : k + 3] = position
    return pool


# --------------------------------------------------------------------------------------------------------
# A floor under a point light: the closed form, and two-sidedness
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def floors(cpu_backend):
    """The floor scene seen from 3 m above and from 3 m below: {camera_y: (scene, dev, integrator)}."""
    out = {}
    for camera_y in (3.0, -3.0):
        scene = scenes.floor_scene(camera_y=camera_y)
        dev = DeviceScene(scene, resolve_all(scene))
        out[camera_y] = scene, dev, Integrator(dev)
    return out


def test_floor_matches_closed_form_in_every_pixel(floors):
    """albedo / pi * I * cos / r^2 averaged over each pixel (64 stratified samples vs a 32x32 grid)."""
    scene, dev, integrator = floors[3.0]
    dev.set_pool(np.array(dev.layout.values, dtype=np.float32))
    integrator.forward(seed=0)
    image = integrator.to_numpy()
    expected = scenes.floor_radiance(scene, subsamples=32)
    assert image.shape == (scene.film.height, scene.film.width, 3)
    assert image.dtype == np.float32
    rel = np.abs(image - expected) / expected
    assert rel.max() < 3e-3, f"max relative error {rel.max():.2e} (mean {rel.mean():.2e})"


@pytest.mark.parametrize(
    "camera_y, light_y, lit",
    [(3.0, 1.5, True), (3.0, -1.5, False), (-3.0, -1.5, True), (-3.0, 1.5, False)],
    ids=["above-lit-from-above", "above-lit-from-below", "below-lit-from-below", "below-lit-from-above"],
)
def test_quads_are_two_sided(floors, camera_y, light_y, lit):
    """The floor quad's geometric normal points down, yet it is lit from whichever side the camera
    sees; it is black (exactly 0) when the light is on the other side."""
    scene, dev, integrator = floors[camera_y]
    light = (-0.6, light_y, -0.4)
    dev.set_pool(_pool_with_light(dev, light))
    integrator.forward(seed=1)
    image = integrator.to_numpy()
    if lit:
        moved = replace(scene, lights=(replace(scene.lights[0], position=light),))
        expected = scenes.floor_radiance(moved, subsamples=32)
        np.testing.assert_allclose(image, expected, rtol=3e-3)
    else:
        assert np.all(image == 0.0), f"lit from the far side: max {image.max()}"


# --------------------------------------------------------------------------------------------------------
# A sphere's hard shadow on a floor; orientation; seeds; batching
# --------------------------------------------------------------------------------------------------------

SHADOW_SPP = 8


@pytest.fixture(scope="module")
def shadow(cpu_backend):
    """The shadow scene with some parameters free (for the batched gradient), rendered by one integrator
    in a single batch and by another in batches of 3 samples per pixel (3 + 3 + 2)."""
    scene = scenes.with_optimize(
        scenes.shadow_scene(spp=SHADOW_SPP), "lights.key.position", "lights.key.intensity", "objects.ball.albedo"
    )
    dev = DeviceScene(scene, resolve_all(scene))
    pixels = scene.film.width * scene.film.height
    single = Integrator(dev)
    batched = Integrator(dev, max_batch_samples=3 * pixels)
    assert (single.n_batches, batched.n_batches) == (1, 3)
    return scene, dev, single, batched


def _render(integrator: Integrator, seed: int) -> np.ndarray:
    integrator.forward(seed)
    return integrator.to_numpy()


def test_shadow_is_exactly_black(shadow):
    """Floor pixels entirely inside the sphere's shadow (per a numpy tracer) are exactly 0 with one
    light; floor pixels entirely outside it are lit; nothing else is black."""
    scene, _, integrator, _ = shadow
    image = _render(integrator, seed=0).sum(axis=-1)
    w, h = scene.film.width, scene.film.height
    sees_g, shadow_g = scenes.trace_sphere_floor(scene, *scenes.subpixel_grid(w, h, 8))
    sees_c, shadow_c = scenes.trace_sphere_floor(scene, *scenes.pixel_corners(w, h))
    # The shadow and the pixel footprint on the floor are convex: corners in -> whole pixel in.
    in_shadow = shadow_c.all(-1) & shadow_g.all(-1)
    lit = ~(shadow_c.any(-1) | shadow_g.any(-1) | sees_c.any(-1) | sees_g.any(-1))
    assert in_shadow.sum() >= 20, "the test scene should have a visible shadow"
    assert np.all(image[in_shadow] == 0.0), f"shadowed pixels not black: max {image[in_shadow].max()}"
    assert np.all(image[lit] > 0.0)
    # Black pixels are in the shadow or on the sphere's dark side, nowhere else.
    dark_elsewhere = (image == 0.0) & lit
    assert not dark_elsewhere.any()


def test_pixel_zero_zero_is_top_left(shadow):
    """Sphere and shadow lie towards -x (image left) and -z (image up, the camera's ``up``)."""
    scene, _, integrator, _ = shadow
    image = _render(integrator, seed=0).sum(axis=-1)
    h, w = image.shape
    rows, cols = np.nonzero(image == 0.0)
    assert rows.size > 0
    assert rows.max() < h // 2 and cols.max() < w // 2, "the shadow is not in the top-left quarter"
    # And the rendered shadow is where the numpy camera (pixel (0, 0) top-left) puts it.
    _, shadow_centre = scenes.trace_sphere_floor(scene, *scenes.subpixel_grid(w, h, 1))
    predicted = np.argwhere(shadow_centre[..., 0]).mean(axis=0)
    np.testing.assert_allclose(np.argwhere(image == 0.0).mean(axis=0), predicted, atol=1.5)


def test_same_seed_gives_identical_images(shadow):
    _, _, integrator, _ = shadow
    a = _render(integrator, seed=5)
    _render(integrator, seed=6)
    b = _render(integrator, seed=5)
    assert np.array_equal(a, b)


def test_different_seed_gives_different_noise(shadow):
    _, _, integrator, _ = shadow
    a = _render(integrator, seed=5)
    b = _render(integrator, seed=6)
    diff = np.abs(a - b)
    assert (diff.max(axis=-1) > 0).mean() > 0.5, "most pixels should change with the seed"
    # ... but only by noise: the same picture on average.
    assert abs(a.mean() - b.mean()) < 0.01 * a.mean()


def test_batched_render_matches_single_batch(shadow):
    _, _, single, batched = shadow
    for seed in (0, 11):
        a, b = _render(single, seed), _render(batched, seed)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)


def test_batched_gradient_matches_single_batch(shadow):
    """The backward pass re-traces the visibility of every batch but the last; the gradient must not
    notice. ``image.grad`` is set to a fixed random weighting (d loss / d image of some loss)."""
    scene, dev, single, batched = shadow
    weights = np.random.default_rng(0).normal(size=(scene.film.height, scene.film.width, 3)).astype(np.float32)
    grads = []
    for integrator in (single, batched):
        integrator.zero_grad()
        integrator.forward(seed=3)
        integrator.image.grad.from_numpy(weights[None])
        integrator.backward(seed=3)
        grads.append(dev.pool.grad.to_numpy()[dev.free_offsets])
    assert np.all(grads[0] != 0.0)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-6 * np.abs(grads[0]).max())


# --------------------------------------------------------------------------------------------------------
# A mesh cube against the same cube made of quads
# --------------------------------------------------------------------------------------------------------


def test_mesh_cube_renders_like_quad_cube(cpu):
    """assets/cube.obj, scaled and rotated, against six quads at the same placement: the same image.

    With the same camera and seed every camera ray is the same, so the pictures agree up to float32
    rounding; only a sample that rounding tips across a silhouette or a face diagonal may differ.
    """
    images = []
    for as_quads in (False, True):
        integrator = Integrator(DeviceScene(scenes.cube_scene(as_quads)))
        images.append(_render(integrator, seed=2))
    mesh_view, quad_view = images
    assert (mesh_view.max(axis=-1) > 0).mean() > 0.2, "the cube should fill a good part of the picture"
    diff = np.abs(mesh_view - quad_view).max(axis=-1)
    differing = diff > 1e-4 * mesh_view.max()
    assert differing.mean() < 0.005, f"{differing.sum()} pixels differ (max {diff.max():.3g})"
    assert np.abs(mesh_view.mean() - quad_view.mean()) < 1e-3 * mesh_view.mean()
