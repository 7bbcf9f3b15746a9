"""The backward pass's sums, and its seed: precise whatever the sample count, right for any seed.

* Summation: a lone quad under a light whose intensity is free. The image is linear in the intensity,
  so ``d loss / d intensity = sum(image.grad * image) / intensity`` per channel, computed on the host in
  float64 from the rendered image, is the exact reference. At 6.3M samples (32x24 pixels, 8192 spp) the
  old summation (every sample added into the float32 ``pool.grad`` in one launch) is off by ~7e-4; the
  banded one by ~4e-7.
* Bands: however the samples are cut (rows, or a row's samples), every sample is shaded exactly once,
  and ``backward`` adds to what ``pool.grad`` held; the folds are float64 on the CPU and on Vulkan.
* Seeds: ``backward(t)`` after ``forward(s)`` must trace every batch again with ``t``: it equals
  ``forward(t); backward(t)``, with one batch or several.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import taichi as ti

from raydiff.device.scene import DeviceScene
from raydiff.kernels.integrator import GradientSum, Integrator, float64_supported
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes


def _relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def _intensity_gradient_reference(integrator: Integrator, weights: np.ndarray, intensity) -> np.ndarray:
    image = integrator.image.to_numpy().astype(np.float64)
    return (weights.astype(np.float64) * image).sum(axis=(0, 1, 2)) / np.asarray(intensity, dtype=np.float64)


def test_banded_sum_is_exact_where_float32_fails(cpu):
    width, height, spp = 32, 24, 8192
    scene = scenes.with_optimize(scenes.lone_floor_scene(width, height, spp), "lights.key.intensity")
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev)
    assert integrator.n_batches == 1 and sum(map(len, integrator.bands)) == 24  # 6.3M samples, 2^18 a band
    weights = np.random.default_rng(0).uniform(0.5, 1.5, size=(1, height, width, 3)).astype(np.float32)
    integrator.zero_grad()
    integrator.forward(3)
    integrator.image.grad.from_numpy(weights)
    truth = _intensity_gradient_reference(integrator, weights, scene.lights[0].intensity)

    integrator.backward(3)
    banded = dev.pool.grad.to_numpy()[dev.free_offsets]
    # The old summation: one launch over the whole batch, straight into float32.
    dev.pool.grad.fill(0.0)
    integrator.bands, integrator.gradient_sum = [[(0, height, 0, integrator.batch)]], None
    integrator.backward(3)
    single = dev.pool.grad.to_numpy()[dev.free_offsets]

    assert _relative(banded, truth) < 1e-5, (banded, truth)
    assert _relative(single, truth) > 1e-4, "float32 summation should fail at this sample count"


@pytest.mark.parametrize("views, height, width, count, band", [
    (1, 24, 32, 8, 1 << 16), (2, 5, 7, 3, 40), (1, 4, 6, 50, 64), (2, 3, 5, 9, 7), (1, 2, 100, 3, 50),
])
def test_bands_cover_every_sample_once(views, height, width, count, band):
    plan = Integrator._plan_bands(SimpleNamespace(n_views=views, height=height, width=width, band_samples=band), count)
    covered = np.zeros((views * height, count), dtype=int)
    for row0, row1, sample0, sample1 in plan:
        assert (row1 - row0) * width * (sample1 - sample0) <= max(band, width)
        covered[row0:row1, sample0:sample1] += 1
    assert np.all(covered == 1)


SPP = 8


@pytest.fixture(scope="module")
def shadow(cpu_backend):
    """The shadow scene (a moving light's shadow: the records matter) with light and albedo free, in one
    batch and one band, and in batches of 3 samples per pixel cut into bands of 20 samples (a row's
    samples split: 48 pixels x 3 samples a row)."""
    scene = scenes.with_optimize(
        scenes.shadow_scene(spp=SPP), "lights.key.position", "lights.key.intensity", "objects.ball.albedo"
    )
    dev = DeviceScene(scene, resolve_all(scene))
    pixels = scene.film.width * scene.film.height
    integrators = {
        "single": Integrator(dev),
        "batched": Integrator(dev, max_batch_samples=3 * pixels, band_samples=20),
    }
    assert integrators["single"].n_batches == 1 and integrators["single"].gradient_sum is None
    batched = integrators["batched"]
    assert batched.n_batches == 3 and batched.gradient_sum is not None and batched.bands[0][0][1] == 1
    weights = np.random.default_rng(1).normal(size=(1, scene.film.height, scene.film.width, 3)).astype(np.float32)
    return dev, integrators, weights


def _gradient(dev, integrator, weights, forward_seed, backward_seed, start=None):
    integrator.zero_grad()
    if start is not None:
        dev.pool.grad.from_numpy(start)
    integrator.forward(forward_seed)
    integrator.image.grad.from_numpy(weights)
    integrator.backward(backward_seed)
    return dev.pool.grad.to_numpy().astype(np.float64)


@pytest.mark.parametrize("name", ["single", "batched"])
def test_backward_with_another_seed_traces_its_own_samples(shadow, name):
    dev, integrators, weights = shadow
    integrator = integrators[name]
    own = _gradient(dev, integrator, weights, 9, 9)[dev.free_offsets]
    other = _gradient(dev, integrator, weights, 4, 9)[dev.free_offsets]
    np.testing.assert_allclose(other, own, rtol=1e-4, atol=1e-5 * np.abs(own).max())  # threads add in any order
    # ... and it is another estimate than the forward seed's
    assert not np.allclose(_gradient(dev, integrator, weights, 4, 4)[dev.free_offsets], own, rtol=1e-3)


def test_bands_agree_and_backward_adds_to_pool_grad(shadow):
    dev, integrators, weights = shadow
    start = np.linspace(-1.0, 1.0, dev.layout.size).astype(np.float32)
    reference = _gradient(dev, integrators["single"], weights, 2, 5)
    got = _gradient(dev, integrators["batched"], weights, 2, 5, start=start)
    np.testing.assert_allclose(got - start, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max())


def test_gradient_sum_folds_in_float64(cpu):
    """A partial sum far below float32's resolution of the total survives the fold."""
    assert float64_supported()
    pool = ti.field(ti.f32, shape=3, needs_grad=True)
    sums = GradientSum(pool)
    pool.grad.from_numpy(np.array([1.0, 1.0, -2.0], dtype=np.float32))
    sums.fold(first=True)
    for _ in range(1000):
        pool.grad.from_numpy(np.array([1e-8, -1e-8, 0.0], dtype=np.float32))
        sums.fold()
    sums.finish()
    np.testing.assert_allclose(pool.grad.to_numpy(), [1.0 + 1e-5, 1.0 - 1e-5, -2.0], rtol=1e-7)


# Last in the module: switching to Vulkan resets Taichi (the fixtures above are done by then).
def test_vulkan_has_float64_for_the_folds(vulkan):
    assert float64_supported()
    width, height, spp = 16, 12, 1024
    scene = scenes.with_optimize(scenes.lone_floor_scene(width, height, spp), "lights.key.intensity")
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev, band_samples=1 << 12)
    assert integrator.gradient_sum.dtype == ti.f64
    weights = np.random.default_rng(0).uniform(0.5, 1.5, size=(1, height, width, 3)).astype(np.float32)
    integrator.zero_grad()
    integrator.forward(3)
    integrator.image.grad.from_numpy(weights)
    integrator.backward(3)
    truth = _intensity_gradient_reference(integrator, weights, scene.lights[0].intensity)
    assert _relative(dev.pool.grad.to_numpy()[dev.free_offsets], truth) < 1e-5
