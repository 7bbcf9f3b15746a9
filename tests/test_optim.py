"""Adam on pool entries against a numpy reference implementation, step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import taichi as ti

from raydiff.optim.adam import Adam


class NumpyAdam:
    """Kingma and Ba (2015), Algorithm 1, with bias correction, then projection onto [lower, upper]."""

    def __init__(self, x, lr, lower, upper, beta1=0.9, beta2=0.999, eps=1e-8):
        self.x = np.array(x, dtype=np.float64)
        self.lr, self.lower, self.upper = (np.asarray(a, dtype=np.float64) for a in (lr, lower, upper))
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = np.zeros_like(self.x)
        self.v = np.zeros_like(self.x)
        self.t = 0

    def step(self, g, lr_scale=1.0):
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        self.x = np.clip(self.x - lr_scale * self.lr * m_hat / (np.sqrt(v_hat) + self.eps), self.lower, self.upper)


def _pool(values) -> ti.Field:
    pool = ti.field(ti.f32, shape=len(values), needs_grad=True)
    pool.from_numpy(np.asarray(values, dtype=np.float32))
    return pool


# A quadratic 0.5 * sum(a * (x - c)^2) over 4 free entries of a 7-entry pool.
POOL = np.array([10.0, 1.0, -2.0, 20.0, 0.5, 3.0, 30.0])
OFFSETS = np.array([1, 2, 4, 5])
CURVATURE = np.array([1.0, 4.0, 0.5, 2.0])
CENTRE = np.array([-1.0, 1.5, 0.2, 2.0])


def _gradient(x):
    return CURVATURE * (x - CENTRE)


def _run(lr, lower, upper, steps, lr_scale=lambda i: 1.0):
    """Run both implementations side by side, comparing after every step."""
    pool = _pool(POOL)
    adam = Adam(pool, OFFSETS, lr, lower, upper)
    ref = NumpyAdam(POOL[OFFSETS], lr, lower, upper)
    for i in range(steps):
        x = pool.to_numpy().astype(np.float64)[OFFSETS]
        g = _gradient(x)
        grad = np.zeros(len(POOL), np.float32)
        grad[OFFSETS] = g
        pool.grad.from_numpy(grad)
        adam.step(lr_scale(i))
        ref.step(g.astype(np.float32).astype(np.float64), lr_scale(i))
        after = pool.to_numpy()
        np.testing.assert_allclose(after[OFFSETS], ref.x, rtol=1e-5, atol=1e-6, err_msg=f"step {i + 1}")
        ref.x = after[OFFSETS].astype(np.float64)  # follow the float32 trajectory
        # Entries that are not free are never touched.
        np.testing.assert_array_equal(np.delete(after, OFFSETS), np.delete(POOL, OFFSETS).astype(np.float32))
    return pool.to_numpy()[OFFSETS]


def test_matches_numpy_step_by_step(cpu):
    lr = np.full(4, 0.05)
    final = _run(lr, np.full(4, -math.inf), np.full(4, math.inf), steps=300)
    np.testing.assert_allclose(final, CENTRE, atol=0.05)


def test_first_step_moves_every_component_by_its_lr(cpu):
    """Adam's first bias-corrected step is lr * g / |g| (up to eps): a per-component learning rate."""
    lr = np.array([0.1, 0.01, 0.5, 0.002])
    pool = _pool(POOL)
    adam = Adam(pool, OFFSETS, lr, np.full(4, -np.inf), np.full(4, np.inf))
    g = _gradient(POOL[OFFSETS])
    grad = np.zeros(len(POOL), np.float32)
    grad[OFFSETS] = g
    pool.grad.from_numpy(grad)
    adam.step()
    step = POOL[OFFSETS] - pool.to_numpy()[OFFSETS]
    np.testing.assert_allclose(step, lr * np.sign(g), rtol=1e-5, atol=5e-7)  # float32 pool values


def test_per_component_lr_and_lr_scale(cpu):
    lr = np.array([0.1, 0.01, 0.05, 0.002])
    _run(lr, np.full(4, -np.inf), np.full(4, np.inf), steps=40, lr_scale=lambda i: 0.97**i)


def test_bounds_are_projected(cpu):
    """Bounds hold after every step, and the optimum inside them is still found."""
    lower = np.array([-0.5, -np.inf, 0.0, 0.0])
    upper = np.array([np.inf, 1.0, 1.0, 2.5])
    final = _run(np.full(4, 0.05), lower, upper, steps=200)
    assert np.all(final >= lower) and np.all(final <= upper)
    expected = np.clip(CENTRE, lower, upper)
    np.testing.assert_allclose(final, expected, atol=0.05)
    assert final[0] == pytest.approx(-0.5) and final[1] == pytest.approx(1.0)


def test_project_clamps_a_starting_guess(cpu):
    pool = _pool(POOL)
    adam = Adam(pool, OFFSETS, np.full(4, 0.1), np.array([0.0, 0.0, 0.0, 0.0]), np.array([0.5, 0.5, 0.5, 0.5]))
    adam.project()
    values = pool.to_numpy()
    np.testing.assert_allclose(values[OFFSETS], np.clip(POOL[OFFSETS], 0.0, 0.5))
    np.testing.assert_array_equal(np.delete(values, OFFSETS), np.delete(POOL, OFFSETS).astype(np.float32))


def test_zero_gradient_does_not_move(cpu):
    pool = _pool(POOL)
    adam = Adam(pool, OFFSETS, np.full(4, 0.1), np.full(4, -np.inf), np.full(4, np.inf))
    pool.grad.fill(0.0)
    for _ in range(3):
        adam.step()
    np.testing.assert_array_equal(pool.to_numpy(), POOL.astype(np.float32))


# --------------------------------------------------------------------------------------------------------
# The divergence guard
# --------------------------------------------------------------------------------------------------------


def _guarded(pool_values, offsets, lr):
    pool = _pool(pool_values)
    loss = ti.field(ti.f32, shape=())
    n = len(offsets)
    adam = Adam(pool, offsets, lr, np.full(n, -math.inf), np.full(n, math.inf), loss=loss)
    adam.project()
    return pool, loss, adam


def _set_grad(pool, offsets, g):
    grad = np.zeros(pool.shape[0], np.float32)
    grad[offsets] = g
    pool.grad.from_numpy(grad)


@pytest.mark.parametrize("bad", ["loss_nan", "loss_inf", "grad_nan", "grad_inf"])
def test_non_finite_step_rolls_back_to_the_best_and_halves_the_rate(cpu, bad):
    offsets = np.array([0, 2])
    pool, loss, adam = _guarded([1.0, 7.0, 2.0], offsets, np.array([0.1, 0.1]))
    # iterations 0..2: losses 3, 1 (the best, at values after two steps), 2
    history = []
    for i, value in enumerate([3.0, 1.0, 2.0]):
        history.append(pool.to_numpy()[offsets].copy())
        loss[None] = value
        _set_grad(pool, offsets, [1.0, -1.0])
        adam.step(1.0, i)
    best = history[1]
    state = adam.read_state()
    assert state["best_iteration"] == 1 and state["best_loss"] == 1.0 and state["halvings"] == 0
    np.testing.assert_allclose(adam.best.to_numpy(), best)

    # iteration 3 diverges
    loss[None] = float("nan") if bad == "loss_nan" else float("inf") if bad == "loss_inf" else 0.5
    g = {"grad_nan": [float("nan"), 1.0], "grad_inf": [1.0, float("-inf")]}.get(bad, [1.0, -1.0])
    _set_grad(pool, offsets, g)
    adam.step(1.0, 3)
    np.testing.assert_allclose(pool.to_numpy()[offsets], best)
    state = adam.read_state()
    assert state == {"steps": 0, "halvings": 1, "best_iteration": 1, "last_rollback": 3, "best_loss": 1.0}
    assert np.all(adam.m.to_numpy() == 0) and np.all(adam.v.to_numpy() == 0)

    # the next good step moves by half the learning rate (Adam's first step is lr * sign(g))
    loss[None] = 1.5
    _set_grad(pool, offsets, [1.0, -1.0])
    adam.step(1.0, 4)
    np.testing.assert_allclose(pool.to_numpy()[offsets], best + np.array([-0.05, 0.05]), rtol=1e-5)
