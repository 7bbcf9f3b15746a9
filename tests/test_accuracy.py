"""raydiff.scene.accuracy: each parameter's error in the unit its goal is stated in."""

from __future__ import annotations

import numpy as np
import pytest

from raydiff.scene.accuracy import angle_between, errors, field_of, rotation_error


def test_field_of():
    assert field_of("lights.key.position") == "position"
    assert field_of("camera.fov") == "fov"
    assert field_of("cameras.front.look_at") == "look_at"
    assert field_of("objects.bunny.rotate.axis") == "rotate.axis"


def test_units_and_goals():
    truth = {"lights.key.position": np.array([0.0, 0, 0]), "lights.key.intensity": np.array([10.0, 10, 10]),
             "camera.fov": np.array([40.0]), "objects.ball.radius": np.array([0.5]),
             "lights.sun.direction": np.array([0.0, -1, 0])}
    values = {"lights.key.position": np.array([0.03, 0.04, 0]), "lights.key.intensity": np.array([10.0, 10.5, 9.9]),
              "camera.fov": np.array([40.2]), "objects.ball.radius": np.array([0.505]),
              "lights.sun.direction": np.array([np.sin(np.radians(2)), -np.cos(np.radians(2)), 0])}
    out = errors(values, truth, size=10.0)
    assert out["lights.key.position"].value == pytest.approx(0.5) and out["lights.key.position"].within
    assert out["lights.key.intensity"].value == pytest.approx(5.0) and not out["lights.key.intensity"].within
    assert out["camera.fov"].value == pytest.approx(0.2) and out["camera.fov"].goal == 0.5
    assert out["objects.ball.radius"].value == pytest.approx(1.0)
    assert out["lights.sun.direction"].value == pytest.approx(2.0) and out["lights.sun.direction"].unit == "degrees"


def test_a_mesh_rotation_is_one_entry():
    truth = {"objects.m.rotate.axis": np.array([0.0, 1, 0]), "objects.m.rotate.angle": np.array([30.0])}
    values = {"objects.m.rotate.axis": np.array([0.0, 1, 0]), "objects.m.rotate.angle": np.array([32.0])}
    out = errors(values, truth, size=1.0)
    assert list(out) == ["objects.m.rotation"]
    assert out["objects.m.rotation"].value == pytest.approx(2.0)
    assert rotation_error([0, 1, 0], 30, [0, 1, 0], 30) == pytest.approx(0.0, abs=1e-6)
    assert angle_between([1, 0, 0], [0, 1, 0]) == pytest.approx(90.0)


def test_not_finite_is_never_within():
    out = errors({"camera.fov": np.array([np.nan])}, {"camera.fov": np.array([40.0])}, size=1.0)
    assert not out["camera.fov"].within
