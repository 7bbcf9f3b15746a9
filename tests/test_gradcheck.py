"""raydiff.optim.gradcheck: automatic differentiation against central finite differences.

* A lone lit quad (nothing casts a shadow, no outline moves with the light or the albedo): the image is
  smooth in every free parameter, so the shading gradient is the whole gradient. With the render's own
  samples (``decorrelate=False``) AD and the finite difference of the same estimator agree to the
  finite difference's own error; with independent samples, within the Monte Carlo noise.
* A sphere's shadow moved by the light: the shading gradient misses the moving edge, the check says
  FAIL; boundary terms passed in (here a stand-in that supplies exactly what is missing) make it pass.
* The nudge and the steps are deterministic, per kind; bad inputs raise before any rendering.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from raydiff.errors import SceneError
from raydiff.io.images import Reference
from raydiff.optim.gradcheck import check_params, default_eps, gradcheck, nudge
from raydiff.scene.parameters import KINDS, find_kind, scene_size

import scene_builders as scenes

PATHS = ["lights.key.position", "lights.key.intensity", "objects.floor.albedo"]


@pytest.fixture(scope="module")
def smooth(cpu_backend):
    """The lone quad checked with the render's own samples (the rendered, nudged reference)."""
    scene = scenes.lone_floor_scene(width=32, height=24, spp=4)
    return scene, gradcheck(scene, spp=16, decorrelate=False, boundary=False)


def test_smooth_scene_agrees_to_the_finite_differences_error(smooth):
    scene, result = smooth
    assert list(result.params) == PATHS and result.ok and not result.boundary
    for path, check in result.params.items():
        assert check.rel_error < 5e-4, (path, check.ad, check.fd)
        assert np.all(check.fd != 0.0)
    assert result.references == ["<rendered>"] and set(result.nudge) == set(PATHS)
    size = scene_size(scene)
    np.testing.assert_allclose(result.nudge["lights.key.position"], np.array(scene.lights[0].position) + 0.02 * size)
    np.testing.assert_allclose(result.nudge["lights.key.intensity"], 1.1 * np.array(scene.lights[0].intensity))


def test_json_has_every_parameter(smooth):
    _, result = smooth
    data = json.loads(json.dumps(result.to_json()))
    assert set(data["params"]) == set(PATHS) and data["ok"] is True
    entry = data["params"]["lights.key.position"]
    assert len(entry["ad"]) == len(entry["fd"]) == 3 and entry["rel_error"] < 5e-4


def test_independent_samples_agree_within_the_noise(cpu):
    scene = scenes.lone_floor_scene(width=32, height=24, spp=4)
    reference = Reference("<dim>", (0.5 * np.ones((24, 32, 3))).astype(np.float32), False)
    result = gradcheck(scene, reference, params=["lights.key.position", "objects.floor.albedo"], spp=64)
    assert result.decorrelate and result.ok, {p: c.rel_error for p, c in result.params.items()}


class _Missing:
    """Stand-in boundary terms: adds ``extra`` to the free entries of pool.grad."""

    def __init__(self, integrator, extra):
        self.dev, self.extra, self.seeds = integrator.dev, extra, []

    def backward(self, seed):
        self.seeds.append(seed)
        grad = self.dev.pool.grad.to_numpy()
        grad[self.dev.free_offsets] += self.extra
        self.dev.pool.grad.from_numpy(grad)


def test_a_moving_shadow_fails_without_boundary_terms_and_passes_with_them(cpu):
    scene = scenes.shadow_scene(width=48, height=36, spp=4)
    reference = Reference("<dim>", np.full((36, 48, 3), 0.3, dtype=np.float32), False)
    options = dict(params=["lights.key.position"], spp=64, decorrelate=False)
    without = gradcheck(scene, reference, boundary=False, **options)
    check = without.params["lights.key.position"]
    assert not without.ok and check.rel_error > 0.05, check
    made = []

    def factory(integrator):
        made.append(_Missing(integrator, (check.fd - check.ad).astype(np.float32)))
        return made[0]

    with_terms = gradcheck(scene, reference, boundary=factory, **options)
    assert with_terms.boundary and len(made[0].seeds) == 1
    assert with_terms.ok, with_terms.params["lights.key.position"]


def test_steps_and_nudges_per_kind():
    size = 10.0
    for kind in KINDS:
        if not kind.free:
            continue
        start = np.full(kind.size, 0.5) if kind.size == 1 or not kind.unit else np.array([0.0, -1.0, 0.0])
        eps = default_eps(kind, start, size)
        assert eps > 0
        moved = nudge(kind, start, size)
        assert moved.shape == start.shape and not np.allclose(moved, start), kind.field
        assert np.all(moved >= kind.lower) and np.all(moved <= kind.upper), kind.field
        if kind.unit:
            turn = np.degrees(np.arccos(np.clip(moved @ start / (np.linalg.norm(moved) * np.linalg.norm(start)), -1, 1)))
            assert 2.0 < turn < 5.0
    position = find_kind("lights", "point", "position")
    assert default_eps(position, np.zeros(3), size) == pytest.approx(0.05)  # 0.5% of the scene's size
    assert find_kind("objects", "sphere", "albedo") is not None
    np.testing.assert_allclose(nudge(find_kind("objects", "sphere", "albedo"), np.array([0.9, 0.2, 0.5]), size),
                               [0.78, 0.32, 0.62])


def test_bad_inputs_raise_before_rendering():
    scene = scenes.lone_floor_scene(width=32, height=24, spp=4)
    with pytest.raises(SceneError, match="--param lights.kye.position: no light named 'kye'"):
        check_params(scene, ["lights.kye.position"])
    with pytest.raises(SceneError, match="cannot be optimised"):
        check_params(scene, ["camera.up"])
    assert check_params(scene, ["objects.floor.albedo", "objects.floor.albedo"]) == ["objects.floor.albedo"]
    from dataclasses import replace

    with pytest.raises(SceneError, match="nothing to check"):
        check_params(replace(scene, optimize=()), None)
    ref = Reference("small.png", np.zeros((10, 10, 3), dtype=np.float32), True)
    with pytest.raises(ValueError, match="small.png: image is 10x10 but the scene's film is 32x24"):
        gradcheck(scene, ref)
    with pytest.raises(ValueError, match="1 camera"):
        gradcheck(scene, [ref, ref])
