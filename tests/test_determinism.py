"""Determinism: the same scene, reference, seed and backend give the same history.

On the deterministic backend (the CPU on one thread) that holds bit for bit, for fresh fits and for a fit
stopped, checkpointed and resumed. With several threads the order in which they add into pixels, the loss
and the gradients varies, and so do the last bits (checked too, so the documentation stays true).
"""

from __future__ import annotations

import numpy as np
import pytest

import raydiff
from raydiff.io.checkpoint import load_checkpoint, save_checkpoint
from raydiff.errors import BackendError
from raydiff.optim.fit import Fitter, FitSettings, Iteration
from raydiff.io.images import Reference
from raydiff.scene.parameters import with_values

import scene_builders as scenes

SETTINGS = FitSettings(iterations=24, lr_decay=0.98, seed=11)


@pytest.fixture(scope="module")
def deterministic():
    backend = raydiff.init("cpu", deterministic=True)
    yield backend
    raydiff.init("cpu")  # the other modules' backend


@pytest.fixture(scope="module")
def problem(deterministic):
    truth = scenes.fit_scene()
    reference = Reference("<truth>", np.clip(raydiff.render(truth, spp=16, seed=5), 0, 1).astype(np.float32), True)
    start = with_values(scenes.with_optimize(truth, "lights.key.position", "lights.key.intensity"),
                        {"lights.key.position": np.array(scenes.FIT_TRUE_LIGHT) + [0.5, -0.4, 0.6]})
    return start, reference


def test_deterministic_backend_is_the_cpu_on_one_thread(deterministic):
    assert deterministic.name == "cpu" and deterministic.deterministic
    assert deterministic.describe() == "cpu (deterministic: 1 thread)"
    with pytest.raises(BackendError, match="CPU backend, not vulkan"):
        raydiff.init("vulkan", deterministic=True)


@pytest.fixture(scope="module")
def straight(problem):
    """The fit of ``problem`` run straight through (one compilation, shared by the tests that compare
    other fits with it)."""
    start, reference = problem
    return raydiff.fit(start, reference, SETTINGS)


def test_the_same_fit_twice_gives_the_same_history_bit_for_bit(problem, straight):
    start, reference = problem
    first = straight
    second = raydiff.fit(start, reference, SETTINGS)
    np.testing.assert_array_equal(first.history, second.history)
    assert all(np.array_equal(first.values[p], second.values[p]) for p in first.values)


def test_stopped_and_resumed_fit_equals_the_straight_one_bit_for_bit(problem, straight, tmp_path):
    """Stop after 9 iterations, checkpoint to disk (with metadata), resume in a new Fitter: the same
    history, values, last values and best iterate as the fit run straight through. (The CLI's resume on
    the default, multi-threaded backend is tested in tests/test_cli_resume.py.)"""
    start, reference = problem
    fitter = Fitter(start, reference, SETTINGS)
    while not fitter.done:
        fitter.step()
        if fitter.iteration == 9:
            Iteration(fitter, 8).stop()
    assert fitter.iteration == 9 and fitter.result().stopped
    save_checkpoint(tmp_path / "checkpoint.npz", fitter.checkpoint(), {"note": "test"})
    arrays, meta = load_checkpoint(tmp_path / "checkpoint.npz")
    assert meta["note"] == "test"
    resumed = raydiff.fit(start, reference, SETTINGS, resume=arrays)
    assert not resumed.stopped and resumed.iterations == SETTINGS.iterations
    np.testing.assert_array_equal(resumed.history, straight.history)
    assert all(np.array_equal(resumed.values[p], straight.values[p]) for p in straight.values)
    assert all(np.array_equal(resumed.last_values[p], straight.last_values[p]) for p in straight.values)
    assert resumed.best_iteration == straight.best_iteration
