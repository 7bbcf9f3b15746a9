"""examples/pendulum.py: the physics of a pendulum recovered through its simulator and the renderer.

At 32 x 24 and 4 samples per pixel, 20 frames: Adam on (length, initial angle, damping) from the
example's start (8%, 15% and 50% off) recovers all three to within 1%, as the full-size example does.
The chained gradient (the renderer's per-frame ``d loss / d centre`` from raydiff.Objective, through the
simulation's Taichi autodiff backward pass) is checked against central differences of the whole chain,
with the same sample seeds on both sides, on 4 frames at 24 x 18 with 64 x 64 stratified samples per
pixel (the bob's outline and shadow move: tests/test_boundary.py's setting and tolerance, 4%).
"""

import importlib.util
import os

import numpy as np
import pytest
import taichi as ti

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def snode_trees() -> int:
    return ti.lang.impl.get_runtime().prog.get_snode_tree_size()


@pytest.fixture(scope="module")
def pendulum():
    """The example as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("pendulum_example", os.path.join(ROOT, "examples", "pendulum.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_length_angle_and_damping_are_recovered_within_one_percent(cpu_backend, pendulum):
    problem = pendulum.PendulumProblem(width=32, height=24, spp=4)
    problem.fit(iterations=2, seed=1)  # every kernel compiled
    trees = snode_trees()
    # 70 iterations: within 0.4% on seeds 0, 1, 2 (the goal is 1%; at 50 the damping is still 6% off)
    result = problem.fit(iterations=70, seed=0)
    assert snode_trees() == trees, "a fit of the built problem made new fields (and recompiled kernels)"
    starts = np.abs(pendulum.START - pendulum.TRUTH) / pendulum.TRUTH
    assert np.all(starts > 0.05), "the fit should start visibly wrong"
    assert all(error < 0.01 for error in result["errors"].values()), result["errors"]
    assert result["history"][-1] < 0.2 * result["history"][0]


@pytest.mark.slow
def test_the_chained_gradient_matches_central_differences(cpu_backend, pendulum):
    check = pendulum.gradient_check()
    assert np.all(check["errors"] < 0.04), check
