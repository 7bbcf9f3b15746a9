"""LossGradient, the one place that computes the gradient: its seeds, its passes, the boundary hook.

With ``decorrelate=False`` it is exactly the sequence the fit ran inline before (forward, loss, loss
backward, integrator backward, all with one seed); with ``decorrelate=True`` (the default) the
integrator's backward pass gets an independent seed derived from the forward one; boundary terms get a
third. The settings carry both switches, and settings saved before they existed load with the defaults.
"""

from __future__ import annotations

import numpy as np
import pytest
import taichi as ti

from raydiff.device.scene import DeviceScene
from raydiff.io.images import Reference
from raydiff.kernels.integrator import Integrator
from raydiff.kernels.sampling import hash_u32 as device_hash
from raydiff.optim.fit import Fitter, FitSettings
from raydiff.optim.gradient import BOUNDARY_STREAM, GRADIENT_STREAM, LossGradient, derive_seed, hash_u32
from raydiff.optim.loss import ImageLoss
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes

SEED = 11


def test_derived_seeds_are_distinct_and_reproducible():
    seeds = [0, 1, 2, 7, 0xFFFFFFFF, 123456789]
    derived = {(s, k): derive_seed(s, k) for s in seeds for k in (GRADIENT_STREAM, BOUNDARY_STREAM, 3)}
    assert all(0 <= d <= 0xFFFFFFFF for d in derived.values())
    assert len(set(derived.values())) == len(derived), "streams and seeds must not collide"
    assert all(d != s for (s, _), d in derived.items())
    assert derive_seed(5, 1) == derive_seed(5, 1) == derive_seed(5 + (1 << 32), 1)


def test_host_hash_is_the_device_hash(cpu):
    values = np.array([0, 1, 2, 0x9E3779B9, 0xFFFFFFFF, 123456789], dtype=np.uint32)
    field = ti.field(ti.u32, shape=len(values))
    field.from_numpy(values)

    @ti.kernel
    def apply():
        for i in field:
            field[i] = device_hash(field[i])

    apply()
    assert field.to_numpy().tolist() == [hash_u32(int(v)) for v in values]


def test_seeds_of_a_call():
    assert LossGradient(None, None, decorrelate=False).seeds(SEED) == (SEED, SEED, derive_seed(SEED, BOUNDARY_STREAM))
    forward, gradient, boundary = LossGradient(None, None).seeds(SEED)
    assert (forward, gradient, boundary) == (SEED, derive_seed(SEED, GRADIENT_STREAM), derive_seed(SEED, BOUNDARY_STREAM))
    assert len({forward, gradient, boundary}) == 3


@pytest.fixture(scope="module")
def setup(cpu_backend):
    """A lit quad (light position, intensity and albedo free) against a dimmed copy of its render."""
    scene = scenes.lone_floor_scene(width=24, height=18, spp=4)
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev)
    integrator.forward(99)
    reference = 0.7 * integrator.to_numpy()
    loss = ImageLoss(integrator.image, reference, "mse", clamp=False)
    return dev, integrator, loss


def _inline(dev, integrator, loss, forward_seed, backward_seed):
    """What Fitter.step did before LossGradient."""
    integrator.zero_grad()
    integrator.forward(forward_seed)
    loss.forward()
    loss.backward()
    integrator.backward(backward_seed)
    return dev.pool.grad.to_numpy()[dev.free_offsets].copy(), loss.read()


def _call(gradient, dev, loss, seed):
    gradient(seed)
    return dev.pool.grad.to_numpy()[dev.free_offsets].copy(), loss.read()


def test_correlated_is_the_old_inline_sequence(setup):
    dev, integrator, loss = setup
    want, want_loss = _inline(dev, integrator, loss, SEED, SEED)
    got, got_loss = _call(LossGradient(integrator, loss, decorrelate=False), dev, loss, SEED)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7 * np.abs(want).max())
    assert got_loss == pytest.approx(want_loss, rel=1e-6)


def test_decorrelated_traces_the_derived_seed(setup):
    dev, integrator, loss = setup
    want, want_loss = _inline(dev, integrator, loss, SEED, derive_seed(SEED, GRADIENT_STREAM))
    got, got_loss = _call(LossGradient(integrator, loss), dev, loss, SEED)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7 * np.abs(want).max())
    assert got_loss == pytest.approx(want_loss, rel=1e-6)  # the loss is the forward seed's
    correlated, _ = _call(LossGradient(integrator, loss, decorrelate=False), dev, loss, SEED)
    assert not np.allclose(got, correlated, rtol=1e-4), "another seed should give another estimate"
    np.testing.assert_allclose(got, correlated, rtol=0.2)  # ... of the same gradient


class _Boundary:
    """A stand-in for the boundary terms: adds a fixed vector to the free entries of pool.grad and notes
    its seed and whether d loss / d image was there to read."""

    def __init__(self, dev, integrator):
        self.dev, self.integrator, self.seeds, self.saw_image_grad = dev, integrator, [], []
        self.extra = np.zeros(dev.layout.size, dtype=np.float32)
        self.extra[dev.free_offsets] = np.arange(1, len(dev.free_offsets) + 1, dtype=np.float32)

    def backward(self, seed: int) -> None:
        self.seeds.append(seed)
        self.saw_image_grad.append(bool(np.any(self.integrator.image.grad.to_numpy() != 0)))
        self.dev.pool.grad.from_numpy(self.dev.pool.grad.to_numpy() + self.extra)


def test_boundary_terms_are_added_with_their_own_seed(setup):
    dev, integrator, loss = setup
    shading, _ = _call(LossGradient(integrator, loss), dev, loss, SEED)
    boundary = _Boundary(dev, integrator)
    gradient = LossGradient(integrator, loss, boundary=boundary)
    got, _ = _call(gradient, dev, loss, SEED)
    assert boundary.seeds == [derive_seed(SEED, BOUNDARY_STREAM)] and boundary.saw_image_grad == [True]
    np.testing.assert_allclose(got - shading, boundary.extra[dev.free_offsets], rtol=1e-4)


def test_settings_carry_both_switches_and_old_settings_load():
    settings = FitSettings()
    assert settings.decorrelate is True and settings.boundary is True
    old = {"iterations": 5, "lr": None, "lr_decay": 1.0, "spp": None, "seed": 3, "loss": "mse"}  # before the fields
    loaded = FitSettings.from_dict(old)
    assert loaded == FitSettings(iterations=5, seed=3, lr_decay=1.0, tol=0.0, beta2=0.999, optimizer="adam",
                                 primary_sets=0, primary_refresh=0)  # as it ran then
    assert FitSettings.from_dict({**old, "decorrelate": False, "from_the_future": 1}).decorrelate is False


def test_the_fitter_computes_its_gradient_with_the_settings(setup):
    scene = scenes.lone_floor_scene(width=24, height=18, spp=4)
    reference = np.full((18, 24, 3), 0.1, dtype=np.float32)
    for decorrelate, boundary in ((True, False), (False, True)):
        settings = FitSettings(iterations=1, decorrelate=decorrelate, boundary=boundary, optimizer="adam")
        fitter = Fitter(scene, Reference("<ref>", reference, False), settings)
        assert isinstance(fitter.gradient, LossGradient) and fitter.gradient.decorrelate is decorrelate
        if boundary:
            assert fitter.gradient.boundary is None or hasattr(fitter.gradient.boundary, "backward")
        else:
            assert fitter.gradient.boundary is None


def test_a_levenberg_marquardt_fit_builds_no_gradient(setup):
    """LM renders its Jacobian by differences: neither the gradient nor the boundary terms are made
    (their fields and kernels would only cost start-up time)."""
    scene = scenes.lone_floor_scene(width=24, height=18, spp=4)
    reference = np.full((18, 24, 3), 0.1, dtype=np.float32)
    fitter = Fitter(scene, Reference("<ref>", reference, False), FitSettings(iterations=1, optimizer="lm"))
    assert fitter.method == "lm" and fitter.gradient is None
