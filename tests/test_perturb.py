"""raydiff.scene.perturb: a study's starting points are seeded, of the stated size, and valid."""

from __future__ import annotations

import numpy as np
import pytest

import raydiff
from raydiff.scene.parameters import resolve_all, scene_size
from raydiff.scene.perturb import perturb

SCENE = """\
camera: {position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}
film: {width: 16, height: 12, spp: 1}
objects:
  - {name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}
  - {name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.98, 0.3, 0.0]}
lights:
  - {name: key, type: point, position: [1, 2, 1], intensity: 8}
  - {name: sun, type: directional, direction: [0, -1, 0], irradiance: 1}
optimize:
  lights.key.position: {}
  lights.key.intensity: {max: 8.5}
  lights.sun.direction: {}
  objects.ball.albedo: {}
  objects.ball.radius: {}
  camera.fov: {}
"""


@pytest.fixture(scope="module")
def scene():
    return raydiff.load_scene_string(SCENE)


def test_same_seed_same_start_and_other_seed_another(scene):
    a = perturb(scene, 0.1, np.random.default_rng(5))
    b = perturb(scene, 0.1, np.random.default_rng(5))
    c = perturb(scene, 0.1, np.random.default_rng(6))
    assert all(np.array_equal(a[p], b[p]) for p in a)
    assert any(not np.array_equal(a[p], c[p]) for p in a)


def test_bounds_units_and_colours(scene):
    free = {r.path: r for r in resolve_all(scene)}
    for seed in range(50):
        start = perturb(scene, 0.5, np.random.default_rng(seed))
        assert np.all((start["objects.ball.albedo"] >= 0) & (start["objects.ball.albedo"] <= 1))
        assert np.linalg.norm(start["lights.sun.direction"]) == pytest.approx(1.0)
        assert np.all(start["lights.key.intensity"] <= 8.5) and np.all(start["lights.key.intensity"] >= 0)
        assert start["objects.ball.radius"][0] >= free["objects.ball.radius"].lower[0] > 0
        assert 0.1 <= start["camera.fov"][0] <= 179


def test_sizes_of_the_perturbation(scene):
    """Places move by sigma times the scene's size, the rest by sigma times their value (on average)."""
    size, sigma = scene_size(scene), 0.05
    moves = [perturb(scene, sigma, np.random.default_rng(seed)) for seed in range(400)]
    position = np.array([m["lights.key.position"] for m in moves]) - [1, 2, 1]
    assert np.std(position) == pytest.approx(sigma * size, rel=0.1)
    radius = np.array([m["objects.ball.radius"][0] for m in moves]) / 0.5 - 1
    assert np.std(radius) == pytest.approx(sigma, rel=0.1)
    green = np.array([m["objects.ball.albedo"][1] for m in moves]) / 0.3 - 1
    assert np.std(green) == pytest.approx(sigma, rel=0.1)


def test_zero_sigma_is_the_truth_and_bad_sigma_is_refused(scene):
    start = perturb(scene, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(start["lights.key.position"], [1, 2, 1])
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            perturb(scene, bad, np.random.default_rng(0))
