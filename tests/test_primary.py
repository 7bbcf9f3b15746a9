"""The primary cache (raydiff/kernels/primary.py): fixed sample sets whose camera rays are traced once.

- With the cache, a pass with seed ``s`` is the plain pass with the seed of ``s``'s set: the render
  (equal within float rounding) and the gradient (the same samples, summed in another order);
- the finite-difference checks of tests/test_gradients.py hold with it (lights, albedos, a glossy
  surface, a texture's texels);
- the passes that must be independent use different sets (the forward and the gradient pass, the
  Levenberg-Marquardt residual, its two Jacobians and its trials); a Levenberg-Marquardt fit with it
  converges;
- it is off where the hits are not constants (a camera or the geometry free, a mirror followed), for a
  render, with no sets asked for, and where its sets do not fit; the memory budget counts it;
- Vulkan gives the CPU's gradient with it;
- a rolling cache (``FitSettings.primary_refresh``): a refreshed set gives the plain render and gradient
  of its new seed, the finite-difference checks hold on it, the schedule replaces every set in turn, and
  a fit checkpointed between refreshes resumes as the uninterrupted one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import raydiff
from raydiff.device.scene import DeviceScene
from raydiff.io.images import Reference
from raydiff.kernels.integrator import Integrator
from raydiff.optim.fit import FitSettings, Fitter, iteration_seed
from raydiff.optim.gradient import (GRADIENT_STREAM, LossGradient, derive_seed, primary_seeds,
                                    primary_sets_before, refresh_due, refresh_seed, stream_seed)
from raydiff.optim.levenberg import JACOBIAN_STREAMS, TRIAL_STREAM
from raydiff.optim.loss import ImageLoss
from raydiff.run import budget
from raydiff.scene.limits import PRIMARY_CACHE_SAMPLES, primary_sets_that_fit
from raydiff.scene.parameters import resolve_all, with_values

import scene_builders as scenes
import test_gradients as tg
import texture_scenes as ts

SETS = primary_seeds(17, 4)


def _floating():
    return scenes.with_optimize(scenes.floating_scene(), "lights.key.position", "lights.key.intensity",
                                "objects.ball.albedo", "objects.box.albedo")


@pytest.fixture(scope="module")
def pair(cpu_backend):
    """The floating scene with lights and albedos free: an integrator with a cache of four sets, and
    one without, on the same device scene."""
    scene = _floating()
    dev = DeviceScene(scene, resolve_all(scene))
    return Integrator(dev, primary_seeds=SETS), Integrator(dev)


def _image_grad(integrator) -> np.ndarray:
    return np.random.default_rng(3).normal(size=integrator.image.shape + (3,)).astype(np.float32)


def test_the_cache_is_kept_and_replaces_the_shading_records(pair):
    cached, plain = pair
    assert cached.primary is not None and cached.primary.sets == 4 and cached.shading is None
    assert plain.primary is None and plain.shading is not None


@pytest.mark.parametrize("seed", [8, 5, 0xFFFFFFFF])
def test_a_cached_render_is_the_plain_render_of_its_sets_seed(pair, seed):
    cached, plain = pair
    k = cached.primary.set_of(seed)
    assert k == seed % 4
    cached.forward(seed)
    plain.forward(SETS[k])
    np.testing.assert_allclose(cached.to_numpy(), plain.to_numpy(), rtol=0, atol=1e-6)
    assert np.any(cached.to_numpy() > 0)


def test_a_cached_partial_render_is_the_plain_one(pair):
    cached, plain = pair
    cached.forward_samples(6, 2)
    plain.forward_samples(SETS[2], 2)
    np.testing.assert_allclose(cached.to_numpy(), plain.to_numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("seeds", [(4, 9), (6, 6)], ids=["decorrelated", "correlated"])
def test_the_cached_gradient_is_the_plain_gradient_on_the_same_samples(pair, seeds):
    cached, plain = pair
    grads = []
    image_grad = _image_grad(cached)
    for integrator, (forward, backward) in ((cached, seeds), (plain, tuple(SETS[s % 4] for s in seeds))):
        integrator.zero_grad()
        integrator.forward(forward)
        integrator.image.grad.from_numpy(image_grad)
        integrator.backward(backward)
        grads.append(integrator.dev.pool.grad.to_numpy()[integrator.dev.free_offsets])
    scale = np.abs(grads[1]).max()
    assert scale > 0
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=2e-5 * scale)


# --- finite differences, with the cache --------------------------------------------------------------------

CONFIGS = [
    tg.Config("key_position", scenes.floating_scene, "lights.key.position", 1e-2, relative=True),
    tg.Config("key_intensity", scenes.floating_scene, "lights.key.intensity", 1e-2),
    tg.Config("sphere_albedo", scenes.floating_scene, "objects.ball.albedo", 1e-2),
    tg.Config("mesh_albedo", scenes.floating_scene, "objects.box.albedo", 1e-2),
    tg.Config("glossy_sphere_alpha", scenes.glossy_floating_scene, "objects.ball.material.alpha", 1e-3),
    tg.Config("glossy_key_position", scenes.glossy_floating_scene, "lights.key.position", 1e-2, relative=True),
    tg.Config("texels", ts.free_texels_scene, "objects.wall.albedo", 1e-2),
]


@pytest.fixture(scope="module")
def cached_setups(cpu_backend):
    """tests/test_gradients.py's setups, each with a primary cache of four sets."""
    cache: dict = {}

    def get(config):
        if config.scene not in cache:
            cache[config.scene] = tg.Setup(config.scene(), None, primary_seeds=SETS)
            assert cache[config.scene].integrator.primary is not None
        return cache[config.scene]

    return get


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_cached_gradient_matches_central_differences(cached_setups, config):
    tg.test_gradient_matches_central_differences(cached_setups, config)


@pytest.mark.parametrize("config", CONFIGS[:3:2], ids=repr)
def test_the_gradient_of_a_refreshed_set_matches_central_differences(cached_setups, config):
    """The set of the checks' seed given new samples (a rolling cache's step), the gradient measured again:
    it matches the central differences on those samples, and it is not the old set's. The set then gets
    its first samples back, so that the module's other checks see the setup as built."""
    setup = cached_setups(config)
    cache, old = setup.integrator.primary, setup.grad
    k = cache.set_of(tg.SEED)
    first = cache.seed_values[k]
    try:
        setup.integrator.refresh_primary(k, derive_seed(first, 99))
        setup.measure()
        assert not np.array_equal(setup.grad, old)
        tg.test_gradient_matches_central_differences(cached_setups, config)
    finally:
        setup.integrator.refresh_primary(k, first)
        setup.measure()
    np.testing.assert_array_equal(setup.grad, old)


# --- a rolling cache ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [8, 3])
def test_a_refreshed_set_gives_the_plain_render_and_gradient_of_its_new_seed(pair, seed):
    cached, plain = pair
    k = cached.primary.set_of(seed)
    new = derive_seed(SETS[k], 7)
    try:
        cached.forward(seed)  # the cache filled with its first sets, the records of this pass kept
        cached.refresh_primary(k, new)
        assert cached.primary.seed_values[k] == new
        grads, image_grad = [], _image_grad(cached)
        for integrator, seeds in ((cached, (seed, seed)), (plain, (new, new))):
            integrator.zero_grad()
            integrator.forward(seeds[0])
            images = integrator.to_numpy()
            integrator.image.grad.from_numpy(image_grad)
            integrator.backward(seeds[1])
            grads.append((images, integrator.dev.pool.grad.to_numpy()[integrator.dev.free_offsets]))
        np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=0, atol=2e-5 * np.abs(grads[1][1]).max())
        plain.forward(SETS[k])
        assert np.abs(plain.to_numpy() - grads[0][0]).max() > 1e-3  # other samples than the set's first ones
        cached.forward(seed + 1)  # the other sets are untouched
        plain.forward(SETS[(k + 1) % 4])
        np.testing.assert_allclose(cached.to_numpy(), plain.to_numpy(), rtol=0, atol=1e-6)
    finally:
        cached.refresh_primary(k, SETS[k])
    with pytest.raises(ValueError, match="sets 0 to 3, not 4"):
        cached.primary.refresh(4, 1)


def test_the_rolling_schedule_keeps_the_forward_passes_samples_fresh_and_resumes_from_any_iteration():
    assert refresh_due(3, 5, 2) and not refresh_due(3, 4, 2) and not refresh_due(0, 100, 0)  # 0: fixed sets
    for sets, refresh, expected in ((4, 1, 1.0), (4, 4, 1.0), (8, 16, 0.5), (8, 24, 1 / 3), (5, 7, None)):
        def set_at(j):  # the set iteration j's forward pass reads (a fit with seed 5)
            return iteration_seed(5, j) % sets

        seeds, traced, refreshes, n = primary_seeds(5, sets), [0] * sets, 0, 12 * sets * max(refresh // sets, 1)
        for i in range(n):
            assert primary_sets_before(5, sets, refresh, i, set_at) == (seeds, traced), (sets, refresh, i)
            k = set_at(i)
            if refresh_due(refresh, i, traced[k]):
                seeds[k], traced[k] = refresh_seed(5, i), i
                refreshes += 1
            assert i - traced[k] < max(refresh, sets)  # the forward pass's samples are never older
        assert min(traced) > 0 and len(set(seeds)) == sets  # each set replaced, by samples of its own
        if expected is not None:  # the share of iterations that re-trace a set
            assert abs(refreshes / n - expected) < 0.1, (sets, refresh, refreshes / n)
    assert primary_sets_before(5, 8, 0, 1000, lambda j: 0) == (primary_seeds(5, 8), [0] * 8)
    assert refresh_seed(5, 3) not in primary_seeds(5, 64) and refresh_seed(5, 3) != refresh_seed(5, 6)


@pytest.mark.parametrize("optimizer", ["adam", "lm"])
def test_a_rolling_fit_resumed_between_refreshes_is_the_uninterrupted_one(cpu, optimizer):
    truth = scenes.fit_scene(width=32, height=24)
    reference = Reference("<array>", raydiff.render(truth, spp=16, seed=1).astype(np.float32), False)
    start = with_values(scenes.with_optimize(truth, "lights.key.position", "lights.key.intensity"),
                        {"lights.key.position": np.array([1.2, 2.9, 1.3]), "lights.key.intensity": np.array([7.0, 7.0, 7.0])})
    settings = FitSettings(iterations=10, tol=0, optimizer=optimizer, primary_sets=4, primary_refresh=6, seed=3)
    straight = Fitter(start, reference, settings)
    for _ in range(8):  # the forward passes read sets 0 3 2 1 0 3 2 1 0: refreshes at iterations 6 (set 2),
        straight.step()  # 7 (set 1) and, after the checkpoint, 8 (set 0)
    saved = straight.checkpoint()
    while not straight.done:
        straight.step()
    resumed = Fitter(start, reference, settings)
    resumed.restore(saved)
    assert [iteration_seed(3, i) % 4 for i in range(9)] == [0, 3, 2, 1, 0, 3, 2, 1, 0]
    first = primary_seeds(3, 4)
    assert [now != was for now, was in zip(resumed.integrator.primary.seed_values, first)] == [False, True, True, False]
    while not resumed.done:
        resumed.step()
    assert resumed.integrator.primary.seed_values == straight.integrator.primary.seed_values
    a, b = straight.result(), resumed.result()
    np.testing.assert_allclose(a.history, b.history, rtol=1e-5, atol=1e-8)
    resumed.settings = replace(settings, primary_refresh=0)  # the same fit on fixed sets (no new compilation)
    resumed.reset({}, seed=3)
    while not resumed.done:
        resumed.step()
    assert resumed.integrator.primary.seed_values == primary_seeds(3, 4)
    fixed = resumed.result().history
    np.testing.assert_allclose(fixed[:6], a.history[:6], rtol=1e-5, atol=1e-8)  # alike until the first refresh
    assert not np.allclose(fixed[7:, 2:], a.history[7:, 2:], rtol=1e-5, atol=1e-8)


# --- independent samples --------------------------------------------------------------------------------


def test_the_passes_that_must_be_independent_use_different_sets(pair):
    cached, plain = pair
    gradient = LossGradient(cached, loss=None)
    for seed in range(200):
        forward, backward, _ = gradient.seeds(seed)
        assert cached.primary.set_of(forward) != cached.primary.set_of(backward)
        seeds = [seed]  # as LevenbergMarquardt.step picks them
        for stream in JACOBIAN_STREAMS:
            seeds.append(stream_seed(cached, seed, stream, seeds))
        seeds.append(stream_seed(cached, seed, TRIAL_STREAM, seeds))
        assert len({cached.primary.set_of(s) for s in seeds}) == 4
    # without a cache, the streams' seeds are the derived ones
    assert LossGradient(plain, loss=None).seeds(5)[1] == derive_seed(5, GRADIENT_STREAM)
    assert stream_seed(plain, 5, TRIAL_STREAM, [5]) == derive_seed(5, TRIAL_STREAM)
    with pytest.raises(ValueError, match="cannot keep 5 passes independent"):
        stream_seed(cached, 1, 9, [0, 1, 2, 3])


def test_a_levenberg_marquardt_fit_with_the_cache_converges(cpu):
    truth = scenes.fit_scene(width=32, height=24)
    reference = Reference("<array>", raydiff.render(truth, spp=64, seed=1).astype(np.float32), False)
    start = with_values(scenes.with_optimize(truth, "lights.key.position", "lights.key.intensity"),
                        {"lights.key.position": np.array([1.2, 2.9, 1.3]), "lights.key.intensity": np.array([7.0, 7.0, 7.0])})
    fitter = Fitter(start, reference, FitSettings(iterations=20, tol=0, primary_sets=8))
    assert fitter.method == "lm" and fitter.integrator.primary is not None and fitter.integrator.primary.sets == 8
    while not fitter.done:
        fitter.step()
    values = fitter.dev.values()
    np.testing.assert_allclose(values["lights.key.position"], truth.lights[0].position, atol=0.03)
    np.testing.assert_allclose(values["lights.key.intensity"], truth.lights[0].intensity, rtol=0.02)


# --- where it is off -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scene, path", [
    (scenes.view_filling_wall_scene, "camera.position"),
    (scenes.view_filling_wall_scene, "objects.wall.origin"),
    (scenes.mirror_ceiling_scene, "lights.key.intensity"),
], ids=["camera", "geometry", "mirror"])
def test_the_cache_is_off_where_the_hits_are_not_constants(cpu, scene, path):
    scene = scenes.with_optimize(scene(), path)
    dev = DeviceScene(scene, resolve_all(scene))
    assert Integrator(dev, primary_seeds=SETS).primary is None


def test_the_cache_is_off_for_a_render_without_sets_and_where_it_does_not_fit(cpu):
    scene = scenes.floating_scene()
    assert Integrator(DeviceScene(scene), primary_seeds=SETS).primary is None  # nothing free
    free = _floating()
    dev = DeviceScene(free, resolve_all(free))
    assert Integrator(dev).primary is None
    pixels = 48 * 36
    assert primary_sets_that_fit(8, pixels * 4) == 8
    assert primary_sets_that_fit(8, PRIMARY_CACHE_SAMPLES // 6) == 6  # fewer sets where fewer fit
    assert primary_sets_that_fit(8, PRIMARY_CACHE_SAMPLES // 3) == 0  # none below four
    assert Integrator(dev, spp=PRIMARY_CACHE_SAMPLES // pixels, primary_seeds=SETS).primary is None
    assert Integrator(dev, max_batch_samples=pixels, primary_seeds=SETS).primary is None  # batches


def test_the_setting_is_checked_and_older_settings_load_without_the_cache():
    assert FitSettings().primary_sets == 8 and FitSettings().primary_refresh == 1  # docs/performance.md, section 16
    assert FitSettings.from_dict({"iterations": 5}).primary_sets == 0  # saved before the field: as it ran
    for bad in (2, 65, -1, 4.0, True, "8"):
        with pytest.raises(ValueError, match="primary_sets must be 0"):
            FitSettings(primary_sets=bad)
    FitSettings(primary_sets=0)
    assert FitSettings.from_dict({"iterations": 5}).primary_refresh == 0  # fixed sets, as such a fit ran
    for bad in (-1, 2.0, True, "4", 2**31):
        with pytest.raises(ValueError, match="primary_refresh must be a whole number of iterations"):
            FitSettings(primary_refresh=bad)


def test_the_budget_counts_the_cache():
    scene = scenes.with_optimize(scenes.floating_scene(), "lights.key.intensity")
    on = budget.estimate(scene, 4, "fit", primary_sets=8)
    off = budget.estimate(scene, 4, "fit", primary_sets=0)
    rows = [need for need in on if "primary cache" in need.what]
    assert len(rows) == 1 and not any("primary cache" in need.what for need in off)
    assert rows[0].bytes == 8 * 48 * 36 * 4 * 52 and "--primary-sets" in rows[0].lever


def test_vulkan_gives_the_cpu_gradient_with_the_cache():
    if not raydiff.backend.available("vulkan"):
        pytest.skip("Vulkan is not available here")
    results = []
    for name in ("cpu", "vulkan"):
        raydiff.init(name)
        scene = _floating()
        dev = DeviceScene(scene, resolve_all(scene))
        integrator = Integrator(dev, primary_seeds=SETS)
        assert integrator.primary is not None
        loss = ImageLoss(integrator.image, np.zeros(integrator.image.shape + (3,), np.float32), "mse", clamp=False)
        LossGradient(integrator, loss)(5)
        results.append((integrator.to_numpy(), dev.pool.grad.to_numpy()[dev.free_offsets]))
    raydiff.init("cpu")
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=2e-4, atol=2e-5 * np.abs(results[0][1]).max())


def test_a_reset_fit_with_the_cache_is_the_fresh_fit_of_its_seed(cpu):
    truth = scenes.fit_scene(width=32, height=24)
    reference = Reference("<array>", raydiff.render(truth, spp=16, seed=1).astype(np.float32), False)
    start = {"lights.key.intensity": np.array([7.0, 7.0, 7.0])}
    scene = with_values(scenes.with_optimize(truth, "lights.key.intensity"), start)
    settings = FitSettings(iterations=3, tol=0, optimizer="adam", primary_sets=4)
    fitter = Fitter(scene, reference, settings)
    for _ in range(3):
        fitter.step()
    fitter.reset(start, seed=7)
    fresh = Fitter(scene, reference, replace(settings, seed=7))
    for f in (fitter, fresh):
        for _ in range(3):
            f.step()
    np.testing.assert_array_equal(fitter.dev.values()["lights.key.intensity"], fresh.dev.values()["lights.key.intensity"])
