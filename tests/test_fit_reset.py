"""``Fitter.reset``: the same device objects start a new fit, which is the fit a fresh Fitter would run.

On the deterministic backend (the CPU on one thread) the reset fit's history equals a fresh Fitter's bit
for bit; and a reset makes no new Taichi SNode tree (a fresh Fitter makes about 13).
"""

from __future__ import annotations

import numpy as np
import pytest
import taichi as ti

import raydiff
from raydiff.io.images import Reference
from raydiff.optim.fit import Fitter, FitSettings
from raydiff.scene.parameters import with_values

import scene_builders as scenes

SETTINGS = FitSettings(iterations=6, seed=3)
PATHS = ("lights.key.position", "lights.key.intensity", "objects.ball.albedo")


def _trees() -> int:
    return ti.lang.impl.get_runtime().prog.get_snode_tree_size()


def _run(fitter: Fitter) -> raydiff.FitResult:
    while not fitter.done:
        fitter.step()
    return fitter.result()


@pytest.fixture(scope="module")
def problem():
    raydiff.init("cpu", deterministic=True)
    truth = scenes.with_optimize(scenes.fit_scene(32, 24, 2), *PATHS)
    pixels = np.clip(raydiff.render(truth, spp=8, seed=5), 0, 1).astype(np.float32)
    yield truth, Reference("<truth>", pixels, True)
    raydiff.init("cpu")  # the other modules' backend


def _start(offset: float) -> dict:
    return {"lights.key.position": np.array(scenes.FIT_TRUE_LIGHT) + [offset, -0.3, 0.4],
            "lights.key.intensity": np.array(scenes.FIT_TRUE_INTENSITY) * (1 + offset),
            "objects.ball.albedo": np.array([0.5, 0.5, 0.5 + offset])}


def test_reset_fit_equals_fresh_fit_and_makes_no_tree(problem):
    truth, reference = problem
    fitter = Fitter(truth, reference, SETTINGS)
    _run(fitter)  # a first fit from the truth: moments, guard and history to forget
    trees = _trees()
    fitter.reset(_start(0.3), seed=7)
    again = _run(fitter)
    assert _trees() == trees, "a reset made a new SNode tree"

    fresh = _run(Fitter(with_values(truth, _start(0.3)), reference, FitSettings(iterations=6, seed=7)))
    assert again.columns == fresh.columns
    np.testing.assert_array_equal(again.history, fresh.history)
    for path in PATHS:
        np.testing.assert_array_equal(again.start[path], fresh.start[path])
        np.testing.assert_array_equal(again.values[path], fresh.values[path])
    assert (again.best_iteration, again.best_loss, again.halvings) == (fresh.best_iteration, fresh.best_loss, fresh.halvings)
    assert again.settings.seed == 7 and again.iterations == 6


def test_reset_projects_onto_bounds_and_swaps_references(problem):
    truth, reference = problem
    fitter = Fitter(truth, reference, SETTINGS)
    start = dict(_start(0.0), **{"objects.ball.albedo": np.array([1.5, -0.2, 0.5])})
    dark = Reference("<dark>", np.zeros_like(reference.linear), True)
    fitter.reset(start, seed=1, references=dark)
    np.testing.assert_allclose(fitter.start["objects.ball.albedo"], [1.0, 0.0, 0.5])
    result = _run(fitter)
    fresh = _run(Fitter(with_values(truth, start), dark, FitSettings(iterations=6, seed=1)))
    np.testing.assert_array_equal(result.history, fresh.history)


def test_reset_rejects_unknown_paths_and_seeds(problem):
    truth, reference = problem
    fitter = Fitter(truth, reference, SETTINGS)
    with pytest.raises(KeyError):
        fitter.reset({"lights.key.colour": [1, 2, 3]}, seed=0)
    with pytest.raises(ValueError, match="seed"):
        fitter.reset({}, seed=-1)


def test_reset_starts_the_stop_criterion_over(problem):
    """A fit that converged (a loose tolerance) and is reset runs again from iteration 0, not 'converged'."""
    truth, reference = problem
    fitter = Fitter(truth, reference, FitSettings(iterations=40, seed=3, tol=0.5, window=2))
    first = _run(fitter)  # started at the truth: converges at the first check
    assert first.ended == "converged" and first.iterations < 40
    fitter.reset(_start(0.3), seed=7)
    assert not fitter.converged and not fitter.done
    fitter.step()
    assert fitter.iteration == 1 and not fitter.done
