"""The stop criterion (raydiff.optim.converge): on synthetic histories, then in a tiny fit that stops by
itself, says so, and resumes into the same decision."""

from __future__ import annotations

import numpy as np
import pytest

import raydiff
from raydiff.optim.converge import LOSS_FACTOR, check_due, converged, scales
from raydiff.optim.fit import Fitter, FitSettings
from raydiff.io.images import Reference
from raydiff.scene.parameters import resolve_all, scene_size, with_values

import scene_builders as scenes

W = 10
FIXED, FLOOR = np.array([8.0, 8.0, 8.0, 0.0]), np.array([8.0, 8.0, 8.0, 1e-3])  # a position (size 8), an intensity


def history(loss, values) -> np.ndarray:
    loss, values = np.asarray(loss, dtype=np.float64), np.asarray(values, dtype=np.float64)
    return np.column_stack([np.arange(len(loss)), loss, values])


def noisy(n, rng, loss=1e-3, loss_noise=0.05, value=(1.0, 2.0, 3.0, 10.0), value_noise=0.0):
    """A converged fit's history: the loss and values jitter around constants (relative noise)."""
    loss = loss * (1 + loss_noise * rng.standard_normal(n))
    values = np.asarray(value) * (1 + value_noise * rng.standard_normal((n, len(value))))
    return history(loss, values)


def test_noise_around_a_fixed_point_converges():
    rng = np.random.default_rng(0)
    # Monte Carlo noise of 5% on the loss, 0.01% of the values: the loss test passes at most checks (a noisy
    # window that seems to fall only delays the stop by a window), the values' test at every check
    fired = [converged(noisy(2 * W, rng, value_noise=1e-4), W, 1e-3, FIXED, FLOOR) for _ in range(400)]
    assert np.mean(fired) > 0.6
    quiet = [converged(noisy(2 * W, rng, loss_noise=0.005, value_noise=1e-4), W, 1e-3, FIXED, FLOOR) for _ in range(400)]
    assert np.mean(quiet) > 0.99


def test_a_falling_loss_or_moving_value_keeps_it_running():
    rng = np.random.default_rng(1)
    rows = noisy(2 * W, rng, loss_noise=0.0)
    rows[W:, 1] *= 1 - 2 * LOSS_FACTOR * 1e-3  # the loss still falls (by twice what is allowed)
    assert not converged(rows, W, 1e-3, FIXED, FLOOR)
    rows = noisy(2 * W, rng, loss_noise=0.0)
    rows[W:, 2] += 2e-3 * 8.0  # a position still moves by 0.2% of the scene's size a window
    assert not converged(rows, W, 1e-3, FIXED, FLOOR)
    rows = noisy(2 * W, rng, loss_noise=0.0)
    rows[W:, 5] *= 1.002  # the intensity still moves by 0.2% of itself
    assert not converged(rows, W, 1e-3, FIXED, FLOOR)
    rows[W:, 5] /= 1.002
    assert converged(rows, W, 1e-3, FIXED, FLOOR)


def test_a_steady_descent_under_noise_is_not_stopped():
    """A fit still travelling (1% of the scene's size per window), with noise ten times its drift per
    iteration on every value and loss: window means see the drift, never a stop."""
    rng = np.random.default_rng(2)
    n = 200
    drift = 8.0 * 0.01 / W * np.arange(n)
    values = np.column_stack([1 + drift, 2 + drift, 3 - drift, np.full(n, 10.0)])
    values[:, :3] += 10 * (8.0 * 0.01 / W) * rng.standard_normal((n, 3))
    loss = 1e-3 * (1 + 0.05 * rng.standard_normal(n))
    rows = history(loss, values)
    assert not any(converged(rows[: i], W, 1e-3, FIXED, FLOOR) for i in range(2 * W, n + 1, W))


def test_too_few_rows_or_no_tolerance_never_converge():
    rows = history(np.full(2 * W, 1e-3), np.full((2 * W, 4), 1.0))
    assert converged(rows, W, 1e-3, FIXED, FLOOR)
    assert not converged(rows[1:], W, 1e-3, FIXED, FLOOR)
    assert not converged(rows, W, 0.0, FIXED, FLOOR)
    rows[-1, 1] = np.nan
    assert not converged(rows, W, 1e-3, FIXED, FLOOR)


def test_check_due_every_window_from_two():
    assert [i for i in range(60) if check_due(i, W, 1e-3)] == [20, 30, 40, 50]
    assert not any(check_due(i, W, 0.0) for i in range(60))


def test_scales_follow_the_kinds():
    scene = scenes.with_optimize(scenes.fit_scene(), "lights.key.position", "lights.key.intensity",
                                 "objects.ball.albedo")
    fixed, floor = scales(resolve_all(scene), scene_size(scene))
    size = scene_size(scene)
    assert list(fixed) == [size] * 3 + [0.0] * 6
    assert list(floor) == [size] * 3 + [1e-3] * 3 + [0.01] * 3


@pytest.mark.parametrize("tol", [-1e-3, 1.0, float("nan"), float("inf")])
def test_settings_refuse_a_bad_tolerance(tol):
    with pytest.raises(ValueError, match="tol must be a number in \\[0, 1\\)"):
        FitSettings(tol=tol)


# --- a tiny fit --------------------------------------------------------------------------------------------

SMALL = dict(width=32, height=24, spp=2)


@pytest.fixture(scope="module")
def tiny(cpu_backend):
    truth = scenes.fit_scene(**SMALL)
    reference = Reference("<truth>", np.clip(raydiff.render(truth, spp=32, seed=5), 0, 1).astype(np.float32), True)
    start = with_values(scenes.with_optimize(truth, "lights.key.intensity"),
                        {"lights.key.intensity": np.array(scenes.FIT_TRUE_INTENSITY) * 0.8})
    return start, reference


def test_a_tiny_fit_stops_by_itself_and_says_so(tiny):
    start, reference = tiny
    settings = FitSettings(iterations=300, lr_decay=0.97, seed=3, tol=1e-3, window=5)
    seen = []
    result = raydiff.fit(start, reference, settings, callback=lambda it: seen.append((it.index, it.converged, it.last)))
    assert result.ended == "converged" and not result.stopped
    assert result.iterations < 300 and result.iterations % 5 == 0
    assert seen[-1] == (result.iterations - 1, True, True) and not any(c for _, c, _ in seen[:-1])
    true = np.array(scenes.FIT_TRUE_INTENSITY)
    assert np.max(np.abs(result.values["lights.key.intensity"] / true - 1)) < 0.05, result.iterations

    # the cap, and a callback's stop, are told apart
    capped = raydiff.fit(start, reference, FitSettings(iterations=8, lr_decay=0.97, seed=3, tol=1e-3, window=5))
    assert capped.ended == "iterations" and capped.iterations == 8

    def stop(it):
        if it.index == 2:
            it.stop()

    stopped = raydiff.fit(start, reference, FitSettings(iterations=8, seed=3), callback=stop)
    assert stopped.ended == "stopped" and stopped.stopped and stopped.iterations == 3

    # tol 0: every iteration runs
    full = raydiff.fit(start, reference, FitSettings(iterations=result.iterations + 10, lr_decay=0.97, seed=3, tol=0.0,
                                                     window=5))
    assert full.ended == "iterations" and full.iterations == result.iterations + 10
    np.testing.assert_array_equal(full.history[: result.iterations, 0], result.history[:, 0])


def test_resume_decides_as_the_uninterrupted_fit(tiny):
    start, reference = tiny
    settings = FitSettings(iterations=300, lr_decay=0.97, seed=3, tol=1e-3, window=5)
    whole = raydiff.fit(start, reference, settings)
    n = whole.iterations
    first = Fitter(start, reference, settings)  # one fit, checkpointed at each cut (a checkpoint only reads)
    for cut in (n - 7, n - 5, n):  # mid-window, on a window's boundary, and after the fit converged
        while first.iteration < cut and not first.done:
            first.step()
        resumed = raydiff.fit(start, reference, settings, resume=first.checkpoint())
        assert resumed.ended == "converged" and resumed.iterations == n, cut
        np.testing.assert_allclose(resumed.history, whole.history, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("beta2", [0.0, 1.0, -0.5])
def test_settings_refuse_a_bad_beta2(beta2):
    with pytest.raises(ValueError, match="beta2 must be in \\(0, 1\\)"):
        FitSettings(beta2=beta2)


def test_settings_saved_before_the_criterion_load_as_they_ran():
    """A fit saved before the stop criterion and beta2 existed ran all its iterations with Adam's usual
    beta2: resumed, it goes on so (``--tol`` on the resume turns the criterion on)."""
    old = {"iterations": 50, "lr": None, "lr_decay": 1.0, "spp": None, "seed": 0, "loss": "mse", "decorrelate": True,
           "boundary": True}
    settings = FitSettings.from_dict(old)
    assert settings.tol == 0.0 and settings.beta2 == 0.999 and settings.window == 10 and settings.iterations == 50
