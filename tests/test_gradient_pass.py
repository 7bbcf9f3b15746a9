"""The gradient pass's shortcuts give the gradient they replace (docs/performance.md, section 9).

- Shading records (:class:`raydiff.kernels.integrator.ShadingRecords`): with the camera and the geometry
  constant, the shading gradient differentiates ``radiance`` from the hit data the visibility pass kept,
  instead of recomputing the hit;
- fixed reads (:mod:`raydiff.device.fixed_reads`): a free light scalar is read from a 0-D copy in the
  shading gradient, whose adjoint Taichi sums per thread instead of by atomics.

Each is held to the path without it, on the same samples: equal within float32 rounding (the sums run in
another order). The finite-difference checks of every gradient (tests/test_gradients.py and others)
run through both shortcuts as well. One scene per case, compiled once per module.
"""

from __future__ import annotations

import numpy as np
import pytest

from raydiff.device.scene import DeviceScene
from raydiff.kernels.integrator import Integrator
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes
import texture_scenes

FORWARD_SEED, GRADIENT_SEED = 11, 29


def _gradient(integrator: Integrator, image_grad: np.ndarray) -> np.ndarray:
    """``pool.grad`` after a forward pass and a backward pass with another seed, for a fixed ``image.grad``."""
    dev = integrator.dev
    integrator.zero_grad()
    integrator.forward(FORWARD_SEED)
    integrator.image.grad.from_numpy(image_grad)
    integrator.backward(GRADIENT_SEED)
    return dev.pool.grad.to_numpy()[dev.free_offsets]


def _without_shortcuts(scene) -> Integrator:
    """An integrator of ``scene`` on a device scene of its own, with neither records nor fixed reads."""
    dev = DeviceScene(scene, resolve_all(scene))
    dev.fixed_reads.fields.clear()  # no copies: every read of the pool is the pool's
    return Integrator(dev, shading_records=False)


def _image_grad(integrator: Integrator) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(size=integrator.image.shape + (3,)).astype(np.float32)


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    scale = np.abs(want).max()
    assert scale > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * scale)


@pytest.fixture(scope="module")
def shadow(cpu_backend):
    """The shadow scene with the light and both albedos free (geometry constant): the integrator with
    the shortcuts, one that splits every row into bands of 64 samples, and one without the shortcuts."""
    scene = scenes.with_optimize(scenes.shadow_scene(spp=8), "lights.key.position", "lights.key.intensity",
                                 "objects.floor.albedo", "objects.ball.albedo")
    dev = DeviceScene(scene, resolve_all(scene))
    return Integrator(dev), Integrator(dev, band_samples=64), _without_shortcuts(scene)


def test_the_shortcuts_are_taken_where_they_apply(shadow):
    fast, _, plain = shadow
    assert fast.shading is not None and fast.dev.fixed_reads.any
    assert sorted(fast.dev.fixed_reads.fields) == [int(k) for k in fast.dev.free_offsets[:6]]  # the light's
    assert plain.shading is None and not plain.dev.fixed_reads.any


def test_shortcuts_give_the_recomputed_gradient(shadow):
    fast, _, plain = shadow
    image_grad = _image_grad(fast)
    _assert_same(_gradient(fast, image_grad), _gradient(plain, image_grad))


def test_shortcuts_with_rows_split_into_bands(shadow):
    """48 pixels x 8 samples a row, bands of at most 64 samples: each row in 8 bands of one sample per
    pixel (run-time sample ranges), the copies' gradients gathered after each band."""
    fast, split, plain = shadow
    assert len(split.bands[0]) == 36 * 8
    image_grad = _image_grad(fast)
    _assert_same(_gradient(split, image_grad), _gradient(plain, image_grad))


def test_forward_pass_reads_the_pool_not_the_copies(shadow):
    """The copies are read only while the shading gradient runs: a render after moving the light in the
    pool (the copies still hold the old position until the next backward pass) sees the new one."""
    fast, _, plain = shadow
    for integrator in (fast, plain):
        pool = np.array(integrator.dev.layout.values, dtype=np.float32)
        pool[integrator.dev.free_offsets[0]] += 0.3  # the light's x
        integrator.dev.set_pool(pool)
        integrator.forward(FORWARD_SEED)
    np.testing.assert_array_equal(fast.to_numpy(), plain.to_numpy())
    for integrator in (fast, plain):
        integrator.dev.set_pool(np.array(integrator.dev.layout.values, dtype=np.float32))


def test_records_keep_the_texture_coordinates(cpu_backend):
    """A textured wall: the records keep each hit's uv, which the texture lookup reads."""
    scene = scenes.with_optimize(texture_scenes.textured_quad_scene(width=32, height=24, spp=4), "lights.key.position")
    fast = Integrator(DeviceScene(scene, resolve_all(scene)))
    assert fast.shading is not None and fast.shading.uv is not None
    plain = _without_shortcuts(scene)
    image_grad = _image_grad(fast)
    _assert_same(_gradient(fast, image_grad), _gradient(plain, image_grad))


def test_no_records_while_the_geometry_is_free(cpu_backend):
    scene = scenes.with_optimize(scenes.shadow_scene(width=16, height=12), "objects.ball.center")
    assert Integrator(DeviceScene(scene, resolve_all(scene))).shading is None


def test_the_budget_counts_the_records():
    """raydiff.run.budget's copy of the records' limit is the integrator's, and a fit's estimate has them."""
    from raydiff.kernels.integrator import MAX_SHADING_RECORD_SAMPLES
    from raydiff.run.budget import SHADING_RECORD_BYTES, estimate
    from raydiff.scene.limits import SHADING_RECORD_SAMPLES

    assert SHADING_RECORD_SAMPLES == MAX_SHADING_RECORD_SAMPLES
    scene = scenes.with_optimize(scenes.shadow_scene(width=16, height=12), "lights.key.position")
    needs = {need.what: need.bytes for need in estimate(scene, spp=4, command="fit")}
    assert needs["the gradient's shading records (4 of 4 spp at a time)"] == SHADING_RECORD_BYTES * 16 * 12 * 4
    assert not any("shading records" in what for what in (n.what for n in estimate(scene, spp=4, command="render")))
