"""The fit loop end to end: recovering a light's position, its intensity and an albedo from a picture.

The reference is the true scene rendered at 64 spp and clipped to [0, 1], handed over as a low-dynamic-
range :class:`raydiff.io.images.Reference` (as if read from an 8-bit file, without the quantisation); the fits
run at 64x48 and 4 spp.
"""

from __future__ import annotations

import numpy as np
import pytest

import raydiff
from raydiff.optim.fit import FitSettings, Iteration, as_references, iteration_seed
from raydiff.io.images import Reference
from raydiff.scene.parameters import with_values

import scene_builders as scenes

TRUE_LIGHT = np.array(scenes.FIT_TRUE_LIGHT)
START_OFFSET = np.array([0.6, -0.48, 0.64])  # 1 m exactly
# Adam (the best iterate, the learning-rate decay); tests/test_levenberg.py fits with Levenberg-Marquardt
POSITION_SETTINGS = FitSettings(iterations=150, lr_decay=0.98, seed=0, tol=0.0, optimizer="adam")  # every iteration runs


@pytest.fixture(scope="module")
def reference(cpu_backend) -> Reference:
    truth = raydiff.render(scenes.fit_scene(), spp=64, seed=12345)
    return Reference("<true scene, 64 spp>", np.clip(truth, 0.0, 1.0).astype(np.float32), low_dynamic_range=True)


def _position_start():
    scene = scenes.with_optimize(scenes.fit_scene(), "lights.key.position")
    return with_values(scene, {"lights.key.position": TRUE_LIGHT + START_OFFSET})


@pytest.fixture(scope="module")
def position_fit(reference):
    rows = []
    result = raydiff.fit(_position_start(), reference, POSITION_SETTINGS, callback=lambda it: rows.append(it.index))
    return result, rows


def test_recovers_light_position(position_fit):
    result, _ = position_fit
    start = result.start["lights.key.position"]
    assert np.linalg.norm(start - TRUE_LIGHT) == pytest.approx(1.0)
    found = result.values["lights.key.position"]
    error = np.linalg.norm(found - TRUE_LIGHT)
    assert error < 0.01, f"recovered {found}, true {TRUE_LIGHT}: off by {error * 1000:.1f} mm"
    # The fitted scene carries the values.
    assert result.scene.light("key").position == pytest.approx(tuple(found))
    assert result.final_loss < 0.01 * result.history[0, 1]


def test_history_shape_and_columns(position_fit):
    result, callback_rows = position_fit
    n = POSITION_SETTINGS.iterations
    assert result.columns == [
        "iteration",
        "loss",
        "lights.key.position[0]",
        "lights.key.position[1]",
        "lights.key.position[2]",
    ]
    assert result.history.shape == (n, len(result.columns))
    np.testing.assert_array_equal(result.history[:, 0], np.arange(n))
    assert np.all(np.isfinite(result.history)) and np.all(result.history[:, 1] >= 0.0)
    # Row i holds the loss and the values *before* step i: row 0 is the start.
    np.testing.assert_allclose(result.history[0, 2:], TRUE_LIGHT + START_OFFSET, atol=1e-6)
    assert not np.allclose(result.history[1, 2:], result.history[0, 2:])
    assert callback_rows == list(range(n))
    assert result.final_image.shape == (48, 64, 3)
    assert result.backend == "cpu"
    assert result.settings == POSITION_SETTINGS


def test_fit_is_deterministic_and_calls_back(position_fit, reference):
    """The same seed gives the same history on the CPU (compared with the first 12 rows of the long fit:
    the learning-rate decay depends only on the iteration number), up to the rounding of parallel float
    sums, whose order the thread scheduling decides (last-bit differences, seen in CI). The callback sees each
    iteration's loss, values after its step, and render."""
    result, _ = position_fit
    seen = []

    def callback(it: Iteration):
        seen.append((it.index, it.loss, it.values()["lights.key.position"].copy(), it.image().shape))

    short = raydiff.fit(
        _position_start(), reference, FitSettings(iterations=12, lr_decay=0.98, seed=0, optimizer="adam"), callback=callback
    )
    np.testing.assert_allclose(short.history, result.history[:12], rtol=1e-5, atol=1e-8)
    assert [s[0] for s in seen] == list(range(12))
    assert [s[1] for s in seen] == pytest.approx(list(short.history[:, 1]))
    np.testing.assert_allclose(seen[0][2], short.history[1, 2:], atol=1e-6)  # after step 0 = before step 1
    assert seen[0][3] == (48, 64, 3)


def test_iteration_seeds_differ():
    seeds = {iteration_seed(0, i) for i in range(1000)} | {iteration_seed(1, i) for i in range(1000)}
    assert len(seeds) == 2000


def test_recovers_intensity_and_albedo(reference):
    """Light intensity and the sphere's albedo together (the floor's known albedo pins the scale)."""
    scene = scenes.with_optimize(scenes.fit_scene(), "lights.key.intensity", "objects.ball.albedo")
    scene = with_values(scene, {"lights.key.intensity": (5.0, 5.0, 5.0), "objects.ball.albedo": (0.4, 0.4, 0.4)})
    result = raydiff.fit(scene, reference, FitSettings(iterations=150, lr_decay=0.98, seed=1))
    np.testing.assert_allclose(result.values["lights.key.intensity"], scenes.FIT_TRUE_INTENSITY, rtol=0.01)
    np.testing.assert_allclose(result.values["objects.ball.albedo"], scenes.FIT_TRUE_BALL_ALBEDO, rtol=0.01)
    assert result.columns[2:] == [
        "lights.key.intensity[0]",
        "lights.key.intensity[1]",
        "lights.key.intensity[2]",
        "objects.ball.albedo[0]",
        "objects.ball.albedo[1]",
        "objects.ball.albedo[2]",
    ]


def test_fit_needs_a_free_parameter(reference):
    with pytest.raises(ValueError, match="frees no parameter"):
        raydiff.fit(scenes.fit_scene(), reference, FitSettings(iterations=1))


def test_the_result_holds_the_best_iterate(position_fit):
    result, _ = position_fit
    losses = result.history[:, 1]
    assert result.best_iteration == int(np.argmin(losses))
    assert result.best_loss == pytest.approx(losses.min())
    np.testing.assert_allclose(result.values["lights.key.position"], result.history[result.best_iteration, 2:], rtol=1e-6)
    assert result.halvings == 0 and not result.stopped


def test_a_bare_array_is_a_high_dynamic_range_reference():
    """Scripts that render their own reference may pass the array: linear RGB, compared unclamped."""
    scene = scenes.fit_scene(width=8, height=6)
    pixels = np.full((6, 8, 3), 2.5, dtype=np.float64)
    for given in (pixels, [pixels]):
        (ref,) = as_references(scene, given)
        assert isinstance(ref, Reference) and not ref.low_dynamic_range
        assert ref.linear.dtype == np.float32 and ref.linear.shape == (6, 8, 3) and ref.path == "<array 0>"
    with pytest.raises(ValueError, match=r"reference 0 is an array of shape \(6, 8\); expected \(height, width, 3\)"):
        as_references(scene, [pixels[..., 0]])
    with pytest.raises(ValueError, match="not finite"):
        as_references(scene, np.full((6, 8, 3), np.nan))


def test_the_device_scene_camera_and_loss_are_written_by_one_kernel(reference, kernels_launched):
    """Building a Fitter writes the device scene's, the camera's and the loss's fields with one upload
    kernel (device/upload.together), not one each and no ``from_numpy`` of the camera's frames; the fit
    then renders what the scene says (tests/test_upload.py checks the values written)."""
    from raydiff.optim.fit import Fitter

    launched = kernels_launched
    fitter = Fitter(_position_start(), reference, FitSettings(iterations=1, optimizer="lm"))
    assert launched[0] == "write" and launched.count("write") == 1 and "ext_arr_to_matrix" not in launched
    np.testing.assert_allclose(fitter.dev.values()["lights.key.position"], TRUE_LIGHT + START_OFFSET, rtol=1e-6)
    np.testing.assert_allclose(fitter.loss.reference.to_numpy()[0], reference.linear, rtol=1e-6)
