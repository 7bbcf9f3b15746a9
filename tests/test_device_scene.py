"""Tests for raydiff.device.scene.DeviceScene: what it refuses before it allocates a single field."""

from __future__ import annotations

import pytest

from raydiff.device import hitrecord
from raydiff.device.scene import DeviceScene
from raydiff.scene import description
from raydiff.scene.model import Camera, Film, PointLight, Scene, Sphere


def test_the_loader_and_the_visibility_mask_agree_on_the_number_of_lights():
    assert description.MAX_LIGHTS == hitrecord.MAX_LIGHTS < 32  # bit 31 of an int32 is its sign


def test_a_scene_built_in_python_with_too_many_lights_is_refused_before_any_field():
    """No backend is initialised here: the check comes before the first Taichi field."""
    lights = tuple(PointLight(f"l{i}", (0.0, 5.0, 0.0), (1.0, 1.0, 1.0)) for i in range(hitrecord.MAX_LIGHTS + 1))
    scene = Scene(camera=Camera((0.0, 0.0, 5.0), (0.0, 0.0, 0.0)), film=Film(8, 6),
                  objects=(Sphere("ball", (0.0, 0.0, 0.0), 1.0),), lights=lights)
    with pytest.raises(ValueError, match="the scene has 32 lights; at most 31 are supported"):
        DeviceScene(scene)


def test_set_values_writes_free_parameters_and_nothing_else(cpu):
    import numpy as np

    from raydiff.scene.parameters import resolve_all

    scene = description.load_scene_string(
        "camera: {position: [0, 0, 5], look_at: [0, 0, 0]}\nfilm: {width: 8, height: 6}\n"
        "objects: [{name: ball, type: sphere, center: [0, 0, 0], radius: 1}]\n"
        "lights: [{name: key, type: point, position: [0, 4, 0], intensity: [5, 5, 5]}]\n"
        "optimize: {lights.key.position: {}}\n")
    dev = DeviceScene(scene, resolve_all(scene))
    before = dev.pool_values()
    dev.set_values({"lights.key.position": [1.0, 2.0, 3.0]})
    assert dev.values()["lights.key.position"].tolist() == [1.0, 2.0, 3.0]
    changed = np.flatnonzero(dev.pool_values() != before)
    assert set(changed) <= set(dev.offsets("lights.key.position"))
    with pytest.raises(KeyError):
        dev.set_values({"objects.ball.radius": [2.0]})
    with pytest.raises(ValueError, match="3 component"):
        dev.set_values({"lights.key.position": [1.0]})
