"""Mirrors (issue 9): smooth conductors followed up to the scene's ``max_depth``.

Parity with Mitsuba 3 is in tests/test_parity.py and the gradients against central differences in
tests/test_gradients.py (``mirror_*``); here: what ``max_depth`` changes, that scenes without a mirror keep
the integrator of before, that the boundary pass passes over mirrors, and a light recovered through a
mirror (the camera sees the lit ceiling only in it).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import raydiff
from raydiff.device.scene import DeviceScene
from raydiff.io.images import Reference
from raydiff.kernels.boundary import make_boundary
from raydiff.kernels.integrator import Integrator
from raydiff.optim.fit import FitSettings
from raydiff.optim.gradient import LossGradient
from raydiff.optim.loss import ImageLoss
from raydiff.scene.parameters import resolve_all, with_values

import scene_builders as scenes


def test_depth_two_shows_mirrors_black_and_records_nothing_more(cpu_backend):
    """At max_depth 2 (direct light only, the default) a mirror is black, as in Mitsuba (a delta BSDF
    under delta lights), and the integrator keeps no reflected-ray records; nor does it in a scene without
    a mirror, whatever its max_depth."""
    scene = replace(scenes.mirror_ceiling_scene(16, 12, 1), optimize=())
    integrator = Integrator(DeviceScene(replace(scene, max_depth=2)))
    integrator.forward(0)
    assert integrator.bounce_hit is None and integrator.n_bounces == 0
    assert np.all(integrator.to_numpy() == 0.0)
    no_mirror = replace(scenes.lone_floor_scene(16, 12, 1), max_depth=4)
    assert Integrator(DeviceScene(no_mirror)).bounce_hit is None


def test_each_depth_adds_a_bounce(cpu_backend):
    """At max_depth 4 the chrome sphere shows the gold floor's reflection of the ball, which at max_depth 3
    it shows black: more light, nowhere less (every path of depth 3 is also one of depth 4)."""
    scene = scenes.mirror_parity_scene(48, 36, 4)
    three, four = (raydiff.render(replace(scene, max_depth=d), seed=1) for d in (3, 4))
    assert np.all(four >= three - 1e-6)
    assert (four - three).sum() > 1e-3 * three.sum()


def test_boundary_pass_passes_over_mirrors(cpu_backend):
    """With the ball's centre free, outlines move: the boundary pass runs, and its samples that see a
    mirror on one side are left out (their radiance jump would need the reflected ray: not covered) rather
    than giving nonsense; the gradient is finite and the one without boundary terms is not changed by
    more than the outline's share."""
    scene = scenes.with_optimize(scenes.mirror_parity_scene(32, 24, 4), "objects.ball.center")
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev)
    integrator.forward(0)
    reference = 0.8 * np.stack(integrator.views_numpy())
    loss = ImageLoss(integrator.image, reference, "mse", clamp=False, weights=[1.0])
    boundary = make_boundary(integrator)
    assert boundary is not None
    grads = []
    for with_boundary in (False, True):
        LossGradient(integrator, loss, boundary=boundary if with_boundary else None)(7)
        grads.append(dev.pool.grad.to_numpy()[dev.free_offsets].astype(np.float64))
    assert np.all(np.isfinite(grads[1])) and np.any(grads[1] != grads[0])


TRUE_LIGHT = np.array(scenes.mirror_ceiling_scene().light("key").position)
START_OFFSET = np.array([0.6, -0.48, 0.64])  # 1 m exactly


def test_light_recovered_through_a_mirror(cpu_backend):
    """The camera sees only a mirror; the ceiling lit by the light is in it. From 1 m off, the fit finds
    the light's position within 1 cm (1% of the start's error). About 45 s on the shared CPU: a whole fit,
    its kernels compiled, at 32x24 and 4 spp (the scene of the gradient checks)."""
    truth = scenes.mirror_ceiling_scene()
    image = raydiff.render(truth, spp=64, seed=12345)
    reference = Reference("<true scene, 64 spp>", np.clip(image, 0.0, 1.0).astype(np.float32), low_dynamic_range=True)
    start = with_values(scenes.with_optimize(truth, "lights.key.position"),
                        {"lights.key.position": TRUE_LIGHT + START_OFFSET})
    result = raydiff.fit(start, reference, FitSettings(iterations=150, lr_decay=0.98, seed=0))
    found = result.values["lights.key.position"]
    error = float(np.linalg.norm(found - TRUE_LIGHT))
    assert error < 0.01, f"recovered {found}, true {TRUE_LIGHT}: off by {error * 1000:.1f} mm"
