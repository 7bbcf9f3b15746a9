"""ImageLoss: its value and its gradient with respect to the image, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import taichi as ti

from raydiff.optim.loss import ImageLoss

H, W = 12, 10


@pytest.fixture
def data():
    rng = np.random.default_rng(4)
    image = rng.uniform(-0.3, 1.6, size=(H, W, 3)).astype(np.float32)  # some below 0, some above 1
    reference = rng.uniform(0.0, 1.0, size=(H, W, 3)).astype(np.float32)
    return image, reference


def _loss(image: np.ndarray, reference: np.ndarray, kind: str, clamp: bool):
    field = ti.Vector.field(3, ti.f32, shape=(H, W), needs_grad=True)
    field.from_numpy(image)
    return field, ImageLoss(field, reference, kind, clamp)


def _numpy(image, reference, kind, clamp):
    """(value, d value / d image) in float64."""
    x = image.astype(np.float64)
    c = np.clip(x, 0.0, 1.0) if clamp else x
    diff = c - reference.astype(np.float64)
    n = diff.size
    inside = ((x > 0.0) & (x < 1.0)) if clamp else np.ones_like(x, bool)
    if kind == "mse":
        return np.mean(diff**2), 2.0 * diff / n * inside
    return np.mean(np.abs(diff)), np.sign(diff) / n * inside


CASES = [("mse", False), ("mse", True), ("l1", False), ("l1", True)]


@pytest.mark.parametrize("kind, clamp", CASES, ids=[f"{k}-{'ldr' if c else 'hdr'}" for k, c in CASES])
def test_value_and_gradient_match_numpy(cpu, data, kind, clamp):
    image, reference = data
    field, loss = _loss(image, reference, kind, clamp)
    expected_value, expected_grad = _numpy(image, reference, kind, clamp)
    loss.forward()
    assert loss.read() == pytest.approx(expected_value, rel=1e-5)
    # Evaluating twice does not accumulate.
    loss.forward()
    assert loss.read() == pytest.approx(expected_value, rel=1e-5)
    field.grad.fill(0.0)
    loss.backward()
    np.testing.assert_allclose(field.grad.to_numpy(), expected_grad, rtol=1e-5, atol=1e-9)


def test_clamp_zeroes_the_gradient_above_one(cpu, data):
    """For an LDR reference, making an already-white pixel brighter changes nothing."""
    image, reference = data
    field, loss = _loss(image, reference, "mse", clamp=True)
    loss.forward()
    field.grad.fill(0.0)
    loss.backward()
    grad = field.grad.to_numpy()
    assert (image > 1.0).sum() > 10 and (image < 0.0).sum() > 10
    assert np.all(grad[image > 1.0] == 0.0)
    assert np.all(grad[image < 0.0] == 0.0)
    assert np.all(grad[(image > 0.0) & (image < 1.0)] != 0.0)
    # ... whereas without the clamp the overshoot is penalised.
    field2, loss2 = _loss(image, reference, "mse", clamp=False)
    loss2.forward()
    field2.grad.fill(0.0)
    loss2.backward()
    assert np.all(field2.grad.to_numpy()[image > 1.0] > 0.0)


def test_clamped_loss_ignores_overexposure(cpu):
    reference = np.ones((H, W, 3), np.float32)
    _, loss = _loss(np.full((H, W, 3), 3.0, np.float32), reference, "mse", clamp=True)
    loss.forward()
    assert loss.read() == 0.0


def test_perfect_match_is_zero(cpu, data):
    _, reference = data
    for kind in ("mse", "l1"):
        _, loss = _loss(reference, reference, kind, clamp=True)
        loss.forward()
        assert loss.read() == 0.0


def test_rejects_bad_arguments(cpu, data):
    _, reference = data
    field = ti.Vector.field(3, ti.f32, shape=(H, W), needs_grad=True)
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        ImageLoss(field, reference, "l2")
    with pytest.raises(ValueError, match="reference is"):
        ImageLoss(field, reference[:, :-1], "mse")


def test_set_reference_changes_the_target_and_keeps_the_kernels(cpu, data):
    image, reference = data
    field, loss = _loss(image, reference, "mse", False)
    loss.set_reference(image)  # now the render is the target: a perfect match
    loss.forward()
    assert loss.read() == 0.0
    loss.set_reference(reference, clamp=True)
    loss.forward()
    assert loss.read() == pytest.approx(_numpy(image, reference, "mse", True)[0], rel=1e-5)
    with pytest.raises(ValueError, match="reference is"):
        loss.set_reference(reference[:-1])
