"""Levenberg-Marquardt (raydiff/optim/levenberg.py): the step on a problem with a known answer, the
Jacobian against the reverse-mode gradient (shading and boundary terms), resume, reset and the choice."""

from dataclasses import replace

import numpy as np
import pytest

import raydiff
from raydiff.device.scene import DeviceScene
from raydiff.io.images import Reference
from raydiff.kernels.boundary import make_boundary
from raydiff.kernels.integrator import Integrator
from raydiff.optim.fit import FitSettings, Fitter, optimizer_of
from raydiff.optim.gradient import LossGradient
from raydiff.optim import levenberg
from raydiff.optim.levenberg import LINEAR_FIELDS, LevenbergMarquardt
from raydiff.optim.loss import ImageLoss
from raydiff.scene.model import Film
from raydiff.scene.parameters import resolve_all, with_values
from scene_builders import fit_scene, with_optimize

TRUE_ALBEDO = np.array([0.7, 0.4, 0.2])


def _render(scene, spp: int, seed: int) -> np.ndarray:
    return raydiff.render(scene, spp=spp, seed=seed)


def _hdr(image: np.ndarray) -> Reference:
    return Reference(path="<array>", linear=image.astype(np.float32), low_dynamic_range=False)


def _machine(scene, reference: np.ndarray, spp: int, damping: float):
    """An integrator, loss and Levenberg-Marquardt optimiser of ``scene``'s free parameters."""
    free = resolve_all(scene)
    dev = DeviceScene(scene, free)
    integ = Integrator(dev, spp=spp)
    loss = ImageLoss(integ.image, reference, "mse", clamp=False)
    n = len(dev.free_offsets)
    lower = np.concatenate([r.lower for r in free])
    upper = np.concatenate([r.upper for r in free])
    steps = Fitter._steps(scene, free)
    linear = [r.kind.field in LINEAR_FIELDS for r in free for _ in range(r.kind.size)]
    lm = LevenbergMarquardt(integ, loss, dev.free_offsets, lower, upper, steps, linear=linear, damping=damping)
    assert lm.n == n
    return dev, integ, loss, lm


def test_one_undamped_gauss_newton_step_lands_on_the_truth_of_a_linear_problem(cpu):
    """The image is linear in the albedos: one undamped step from a wrong start lands on the truth (to
    the Monte Carlo noise of the residual and the Jacobian, small at 64 spp)."""
    truth = fit_scene(width=32, height=24)
    truth = replace(truth, objects=(truth.objects[0], replace(truth.objects[1], albedo=tuple(TRUE_ALBEDO))))
    reference = _render(truth, spp=256, seed=11)
    start = with_values(with_optimize(truth, "objects.ball.albedo"), {"objects.ball.albedo": np.array([0.3, 0.6, 0.5])})
    dev, integ, loss, lm = _machine(start, reference, spp=64, damping=0.0)
    lm.samples = integ.spp  # a Jacobian of every sample: its noise would shrink the step (Jᵀ J grows by it)
    lm.evaluate(5)
    lm.step(5, 0)
    fitted = dev.values()["objects.ball.albedo"]
    assert lm.read_state()["steps"] == 1
    np.testing.assert_allclose(fitted, TRUE_ALBEDO, rtol=0.01)


def test_the_jacobians_gradient_is_the_reverse_mode_gradient_with_its_boundary_terms(cpu):
    """``2 Jᵀ W r`` (the gradient the normal equations hold) equals the fit's reverse-mode gradient
    (shading term plus boundary terms) for a light's position and intensity (shading only) and the
    ball's centre, whose outline and shadow move: the central differences of the Jacobian see the edges
    move. Without the boundary terms the reverse-mode gradient of the centre is far off, so the
    agreement is not the shading term's alone. (About a minute, most of it compiling the reverse-mode
    and boundary kernels it compares with.)"""
    truth = fit_scene(width=48, height=36)
    reference = _render(truth, spp=512, seed=3)
    start = with_optimize(truth, "lights.key.position", "lights.key.intensity", "objects.ball.center")
    start = with_values(start, {"lights.key.position": np.array([0.9, 2.6, 1.4]),
                                "lights.key.intensity": np.array([9.0, 9.0, 9.0]),
                                "objects.ball.center": np.array([0.12, 0.5, -0.08])})
    dev, integ, loss, lm = _machine(start, reference, spp=256, damping=1e-3)
    lm.samples = integ.spp  # every sample: the columns' noise (edges crossing few samples) out of the way
    lm.steps = 0.3 * lm.steps  # closer to the derivative than the fit's secant (a few % off on the centre)
    lm.evaluate(21)
    lm._keep()
    lm._jacobian(0, 1234)
    lm._jacobian(1, 4321)
    sums = lm._equations()  # [A | g | θ]
    lm._restore()
    from_jacobian = 2.0 * sums[:, lm.n]

    def reverse(boundary: bool) -> np.ndarray:
        gradient = LossGradient(integ, loss, boundary=make_boundary(integ) if boundary else None)
        gradient(21)
        return dev.pool.grad.to_numpy()[dev.free_offsets]

    with_edges, without = reverse(True), reverse(False)
    for name, part in (("position", slice(0, 3)), ("intensity", slice(3, 6)), ("centre", slice(6, 9))):
        error = np.linalg.norm(from_jacobian[part] - with_edges[part]) / np.linalg.norm(with_edges[part])
        assert error < 0.05, (name, from_jacobian[part], with_edges[part])
    centre = slice(6, 9)
    assert np.linalg.norm(from_jacobian[centre] - without[centre]) > 0.1 * np.linalg.norm(with_edges[centre])


@pytest.fixture(scope="module")
def light_fit(cpu_backend):
    """A light's position and intensity, started off, with the reference of the true scene."""
    truth = fit_scene(width=32, height=24)
    reference = _hdr(_render(truth, spp=64, seed=1))
    start = with_values(with_optimize(truth, "lights.key.position", "lights.key.intensity"),
                        {"lights.key.position": np.array([1.2, 2.9, 1.3]), "lights.key.intensity": np.array([7.0, 7.0, 7.0])})
    return start, reference, truth


def test_auto_chooses_levenberg_marquardt_for_few_free_scalars_and_the_l2_loss():
    assert optimizer_of(FitSettings(), 6) == "lm"
    assert optimizer_of(FitSettings(), 33) == "adam"
    assert optimizer_of(FitSettings(loss="l1"), 6) == "adam"
    assert optimizer_of(FitSettings(optimizer="adam"), 6) == "adam"
    assert optimizer_of(FitSettings(optimizer="lm"), 100) == "lm"
    with pytest.raises(ValueError, match="optimizer lm fits the mse loss"):
        FitSettings(optimizer="lm", loss="l1")
    with pytest.raises(ValueError, match="optimizer must be one of auto, adam, lm"):
        FitSettings(optimizer="newton")
    assert FitSettings.from_dict({"iterations": 5}).optimizer == "adam"  # saved before the field: as it ran


def test_a_levenberg_marquardt_fit_finds_a_light_and_says_so(light_fit):
    start, reference, truth = light_fit
    result = raydiff.fit(start, reference, FitSettings(iterations=20, tol=0))
    assert result.optimizer == "lm"
    np.testing.assert_allclose(result.values["lights.key.position"], truth.lights[0].position, atol=0.02)
    np.testing.assert_allclose(result.values["lights.key.intensity"], truth.lights[0].intensity, rtol=0.01)
    assert result.best_iteration >= 0 and np.isfinite(result.history[:, 1]).all()


def test_a_resumed_levenberg_marquardt_fit_ends_where_the_uninterrupted_one_does(light_fit):
    start, reference, _ = light_fit
    settings = FitSettings(iterations=6, tol=0)
    # one fit checkpointed half-way (a checkpoint only reads the device) and then run to the end: two
    # Fitters (two compilations of the scene) instead of a third one only to make the checkpoint
    straight = Fitter(start, reference, settings)
    for _ in range(3):
        straight.step()
    saved = straight.checkpoint()
    while not straight.done:
        straight.step()
    assert {"lm_best", "lm_state", "lm_damping", "lm_best_loss"} <= set(saved)
    resumed = Fitter(start, reference, settings)
    resumed.restore(saved)
    while not resumed.done:
        resumed.step()
    a, b = straight.result(), resumed.result()
    np.testing.assert_allclose(a.history, b.history, rtol=1e-5, atol=1e-8)
    for path in a.values:
        np.testing.assert_allclose(a.values[path], b.values[path], rtol=1e-5)
    assert straight.optimizer.read_state()["damping"] == pytest.approx(resumed.optimizer.read_state()["damping"], rel=1e-5)

    # reset: the same fields and kernels run the same fit again from the start
    straight.reset({}, seed=0)
    while not straight.done:
        straight.step()
    np.testing.assert_allclose(straight.result().history, a.history, rtol=1e-5, atol=1e-8)


def test_its_steps_are_two_kernels_that_compute_what_the_steps_say(light_fit, kernels_launched):
    """Levenberg-Marquardt's start and iteration launch two kernels of its own (``small`` and ``exchange``,
    each distinct kernel costs the start tens of ms: docs/performance.md, section 15) and no copy kernels;
    the sums, the step and the best values they compute are the ones the module's docstring says."""
    start, reference, _ = light_fit
    fitter = Fitter(start, reference, FitSettings(iterations=2, tol=0))
    lm = fitter.optimizer
    fitter.checkpoint()
    before = len(kernels_launched)
    fitter.step()
    assert set(kernels_launched[before:]) <= {"field_fill_python_scope", "visibility", "evaluate", "record", "small",
                                              "exchange", "fill"}  # fill: the rolling primary cache's refresh
    assert {"small", "exchange"} <= set(kernels_launched)

    # the sums: A = (J1ᵀ W J2 + J2ᵀ W J1) / 2, g = ((J1 + J2) / 2)ᵀ W r, θ, from the device's columns
    lm.evaluate(7)
    lm._keep()
    lm._jacobian(0, 8)
    lm._jacobian(1, 9)
    sums = lm._equations()
    k = lm.n
    columns = lm.columns.to_numpy().astype(np.float64).reshape(2 * k, lm.residual.shape[0], -1, 3)
    w = fitter.loss.scale.to_numpy().astype(np.float64)[None, :, None, None]
    one, two = columns[:k], columns[k:]
    residual = lm.residual.to_numpy().astype(np.float64).reshape(1, *columns.shape[1:])
    a = 0.5 * (np.einsum("avpc,bvpc->ab", one * w, two) + np.einsum("avpc,bvpc->ab", two * w, one))
    g = np.einsum("avpc,avpc->a", 0.5 * (one + two) * w, np.broadcast_to(residual, one.shape))
    np.testing.assert_allclose(sums[:, :k], a, rtol=1e-6, atol=1e-12 * np.abs(a).max())
    np.testing.assert_allclose(sums[:, k], g, rtol=1e-6, atol=1e-12 * np.abs(g).max())
    theta = lm.base.to_numpy()
    np.testing.assert_array_equal(sums[:, k + 1], theta)

    # a step: θ + δ clamped to the bounds, taken as the best, read back and written again
    lm._restore()
    delta = np.linspace(-1e3, 1e3, k)
    lm._apply(delta)
    lower, upper = lm.lower.to_numpy(), lm.upper.to_numpy()
    moved = np.minimum(np.maximum(theta + delta.astype(np.float32), lower), upper)
    np.testing.assert_array_equal(fitter.dev.pool_values()[fitter.dev.free_offsets], moved)
    lm._accept()
    np.testing.assert_array_equal(lm.best_values(), moved)
    state = lm.state_arrays()
    lm._floats[0] = 0.0
    lm._exchange(levenberg.WRITE_BEST)
    lm.load_state_arrays(state)
    np.testing.assert_array_equal(lm.best.to_numpy(), moved)
