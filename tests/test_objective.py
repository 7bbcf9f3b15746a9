"""raydiff.Objective (raydiff/optim/objective.py): the loss and its gradient for a dict of scene values.

The gradient is checked against central differences of :meth:`Objective.value` with the same sample seed
on both sides (common random numbers), on the sphere-over-floor scene of tests/test_boundary.py, where the
sphere's outline and its shadow move with its centre and the shadow with the light: the boundary terms
carry most of the change. As there: a 32 x 24 film with 64 x 64 stratified samples per pixel, steps for
which the central difference has converged, and 4% relative L2 per parameter. The gradient is the one a
fit uses (decorrelated shading samples plus the boundary terms), averaged over two seeds.

One objective is built for the whole module (one compile): the other tests reuse it, and check that no
call after the first adds a Taichi SNode tree (nothing is recompiled).
"""

import numpy as np
import pytest
import taichi as ti

import raydiff
from raydiff.optim.objective import frame_seed
from raydiff.scene.model import Camera, Film, PointLight, Quad, Scene, Sphere

SPP = 64 * 64  # stratified: a 64 x 64 grid in every pixel
EDGE_SAMPLES = 4096
RTOL = 0.04
CENTER, LIGHT = "objects.ball.center", "lights.key.position"
START = {CENTER: np.array([0.1, 0.45, 0.0]), LIGHT: np.array([-1.0, 2.5, 0.5])}
NUDGE = {CENTER: np.array([0.05, 0.0, 0.04]), LIGHT: np.array([0.15, 0.0, 0.1])}
STEP = {CENTER: 0.003, LIGHT: 0.01}


def ball_scene(width: int = 32, height: int = 24) -> Scene:
    """A sphere over a floor under a point light (tests/test_boundary.py's ``ball_scene``), nothing freed."""
    floor = Quad("floor", origin=(-3.0, 0.0, -3.0), edge1=(0.0, 0.0, 6.0), edge2=(6.0, 0.0, 0.0), albedo=(0.7, 0.7, 0.7))
    ball = Sphere("ball", center=tuple(START[CENTER]), radius=0.3, albedo=(0.9, 0.3, 0.2))
    return Scene(camera=Camera(position=(0.0, 2.5, 2.5), look_at=(0.0, 0.2, 0.0), fov=45.0), film=Film(width, height, 4),
                 objects=(floor, ball), lights=(PointLight("key", tuple(START[LIGHT]), (8.0, 8.0, 8.0)),))


def snode_trees() -> int:
    return ti.lang.impl.get_runtime().prog.get_snode_tree_size()


@pytest.fixture(scope="module")
def objective(cpu_backend):
    obj = raydiff.Objective(ball_scene(), free=[CENTER, LIGHT], spp=SPP, edge_samples=EDGE_SAMPLES)
    nudged = {path: START[path] + NUDGE[path] for path in START}
    obj.set_reference(obj.render(nudged, seed=99))
    obj.set_values(START)
    return obj


def test_the_gradient_matches_central_differences_with_common_random_numbers(objective):
    estimates = [objective.value_and_grad(START, seed=seed)[1] for seed in (1, 2)]
    boundary, objective.gradient.boundary = objective.gradient.boundary, None
    try:  # the shading term alone, for comparison: the outline and the shadow carry the change
        interior = objective.value_and_grad(START, seed=1)[1]
    finally:
        objective.gradient.boundary = boundary
    failures = []
    for path in (CENTER, LIGHT):
        ad = np.mean([e[path] for e in estimates], axis=0)
        fd = []
        for k in range(3):
            sides = []
            for sign in (1.0, -1.0):
                value = START[path].copy()
                value[k] += sign * STEP[path]
                sides.append(objective.value({**START, path: value}, seed=5))
            fd.append((sides[0] - sides[1]) / (2.0 * STEP[path]))
        fd = np.array(fd)
        error = np.linalg.norm(ad - fd) / np.linalg.norm(fd)
        without = np.linalg.norm(interior[path] - fd) / np.linalg.norm(fd)
        if error >= RTOL:
            failures.append(f"{path}: gradient {ad}, central differences {fd} ({error:.1%}; "
                            f"without the boundary terms {without:.1%})")
        if without < 3 * RTOL:
            failures.append(f"{path}: the boundary terms should matter here (without them {without:.1%})")
    objective.set_values(START)
    assert not failures, "\n".join(failures)


def test_equal_seeds_give_equal_values_and_gradients(objective):
    first = objective.value_and_grad(START, seed=3)
    again = objective.value_and_grad(START, seed=3)
    assert again[0] == pytest.approx(first[0], rel=1e-5)
    assert objective.value(START, seed=3) == pytest.approx(first[0], rel=1e-5)
    for path in (CENTER, LIGHT):  # equal up to the order of the device's parallel float32 sums
        np.testing.assert_allclose(again[1][path], first[1][path], rtol=1e-4, atol=1e-9)


def test_frames_are_single_evaluations_with_their_own_seeds_and_nothing_is_recompiled(objective):
    objective.value_and_grad(START, seed=0)  # every kernel compiled (the other tests may run alone)
    trees = snode_trees()
    centres = np.array([START[CENTER], START[CENTER] + [0.05, 0.0, 0.0]])
    references = [objective.render({CENTER: c + [0.02, 0.0, 0.0]}, seed=1) for c in centres]
    losses, grads = objective.frames({CENTER: centres}, references, seed=4)
    assert losses.shape == (2,) and grads[CENTER].shape == (2, 3) and grads[LIGHT].shape == (2, 3)
    for f in range(2):
        objective.set_reference(references[f])
        loss, grad = objective.value_and_grad({CENTER: centres[f]}, seed=frame_seed(4, f))
        assert loss == pytest.approx(losses[f], rel=1e-5)
        np.testing.assert_allclose(grad[CENTER], grads[CENTER][f], rtol=1e-4, atol=1e-9)
    prepared = objective.prepare_frames(references)
    np.testing.assert_allclose(objective.frames({CENTER: centres}, prepared, seed=4)[0], losses, rtol=1e-5)
    np.testing.assert_allclose(objective.frame_values({CENTER: centres}, prepared, seed=4), losses, rtol=1e-5)
    objective.render_frames({CENTER: centres}, seed=2)
    assert snode_trees() == trees, "a call after the first built new fields (and recompiled kernels)"
    objective.set_values(START)


def test_wrong_input_is_a_clear_error(objective):
    with pytest.raises(KeyError, match="objects.ball.centre"):
        objective.value_and_grad({"objects.ball.centre": [0, 0, 0]})
    with pytest.raises(ValueError, match="3 component"):
        objective.value_and_grad({CENTER: [0.0, 0.4]})
    with pytest.raises(ValueError, match=r"\(24, 32, 3\)"):
        objective.set_reference(np.zeros((12, 16, 3)))
    with pytest.raises(ValueError, match="2 frames of values but 1"):
        objective.frames({CENTER: np.zeros((2, 3))}, [np.zeros((24, 32, 3))])
    with pytest.raises(ValueError, match=r"\(frames, 3\)"):
        objective.frames({CENTER: np.zeros((2, 2))}, [np.zeros((24, 32, 3))] * 2)


@pytest.mark.parametrize("free, error, words", [
    (["objects.bal.center"], KeyError, "did you mean 'ball'"),
    (["objects.ball.centre"], KeyError, "cannot be optimised"),
    ([CENTER, CENTER], ValueError, "more than once"),
    ([], ValueError, "nothing is free"),
])
def test_wrong_free_parameters_are_refused_before_anything_is_built(cpu_backend, free, error, words):
    with pytest.raises(error, match=words):
        raydiff.Objective(ball_scene(), free=free)


def test_several_views_sum_their_weighted_losses(cpu_backend):
    """With two cameras (weights 1 and 2) the loss is the weighted sum of each view's MSE, one reference
    per camera in order; one reference for two cameras is refused."""
    from dataclasses import replace

    scene = ball_scene(16, 12)
    side = Camera(position=(2.5, 2.0, 1.0), look_at=(0.0, 0.3, 0.0), fov=40.0, name="side", weight=2.0)
    scene = replace(scene, camera=None, cameras=(replace(scene.camera, name="front"), side))
    obj = raydiff.Objective(scene, free=[CENTER], spp=4)
    with pytest.raises(ValueError, match="2 camera"):
        obj.set_reference(np.zeros((12, 16, 3)))
    references = [np.full((12, 16, 3), 0.1, dtype=np.float32), np.full((12, 16, 3), 0.3, dtype=np.float32)]
    obj.set_reference(references)
    images = obj.render(seed=3)
    want = sum(w * np.mean((np.asarray(i, np.float64) - r) ** 2) for w, i, r in zip((1.0, 2.0), images, references))
    assert obj.value(seed=3) == pytest.approx(want, rel=1e-4)
