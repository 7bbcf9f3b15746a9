"""Boundary terms (raydiff.kernels.boundary) against central finite differences, where edges carry the change.

Each config frees one parameter of a scene whose image changes mostly by moving an outline or a shadow
edge: the shading-only gradient (the interior term) is far off there, and the interior plus the boundary
term must match central differences with common random numbers (the same seed on both sides). The
reference is the scene rendered with the parameter nudged, so the loss has a real slope.

Finite differences of a discontinuous image need many samples: the edge moves across a sample only if
the step is large enough, and the step must be small for the difference to be a derivative. The renders
here use 64 x 64 stratified samples per pixel on a 32 x 24 film, and steps chosen so that the central
difference has converged to about 1% (halving the step changes it by less); the tolerance is 4% relative
L2 over the parameter's components.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest

from raydiff.device.scene import DeviceScene
from raydiff.kernels.boundary import Boundary, make_boundary, mesh_edges
from raydiff.kernels.integrator import Integrator
from raydiff.optim.loss import ImageLoss
from raydiff.scene.model import Camera, DirectionalLight, Film, PointLight, Quad, Rotation, Scene, Sphere
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes

FD_SPP = 64 * 64  # stratified: a 64 x 64 grid in every pixel; the configs' interior term uses it too
AD_SPP = 1024  # the film's: the interior term with forward and backward on the same samples: biased by O(1/spp)
EDGE_SAMPLES = 4096  # per candidate curve
EDGE_DENSITY = 128.0  # adaptive samples per pixel of visible curve (the curves here are 10-40 pixels long)
RTOL = 0.04


# --------------------------------------------------------------------------------------------------------
# Scenes: a floor, something over it, and a light that casts its shadow where the camera sees it
# --------------------------------------------------------------------------------------------------------

FLOOR = Quad("floor", origin=(-3.0, 0.0, -3.0), edge1=(0.0, 0.0, 6.0), edge2=(6.0, 0.0, 0.0), albedo=(0.7, 0.7, 0.7))
CAMERA = Camera(position=(0.0, 2.5, 2.5), look_at=(0.0, 0.2, 0.0), fov=45.0)
KEY = PointLight("key", (-1.0, 2.5, 0.5), (8.0, 8.0, 8.0))
SUN = DirectionalLight("sun", scenes.unit((0.5, -1.0, -0.3)), (2.0, 2.0, 2.0))
FILM = Film(32, 24, AD_SPP)


def ball_scene() -> Scene:
    """A sphere over the floor under a point light: its outline and its shadow in view."""
    ball = Sphere("ball", center=(0.1, 0.45, 0.0), radius=0.3, albedo=(0.9, 0.3, 0.2))
    return Scene(camera=CAMERA, film=FILM, objects=(FLOOR, ball), lights=(KEY,))


def glossy_ball_scene() -> Scene:
    """:func:`ball_scene` with a gold rough conductor (GGX, alpha 0.3): the radiance jump across its outline
    and the shadow's edge comes from the same glossy shading."""
    ball = replace(ball_scene().object("ball"), material=scenes.glossy(0.3, (0.9, 0.8, 0.6), **scenes.GOLD))
    return replace(ball_scene(), objects=(FLOOR, ball))


def box_scene() -> Scene:
    """A cube mesh on the floor under a point light."""
    cube = scenes.cube_mesh("box", (0.5, 0.4, 0.6), Rotation(axis=(0.0, 1.0, 0.0), angle=25.0), (0.0, 0.35, 0.0))
    return Scene(camera=CAMERA, film=FILM, objects=(FLOOR, cube), lights=(KEY,))


def card_scene() -> Scene:
    """A tilted card (a quad) over the floor, under a point light and a directional one."""
    card = Quad("card", origin=(-0.3, 0.6, -0.3), edge1=(0.0, 0.1, 0.6), edge2=(0.6, 0.0, 0.0), albedo=(0.2, 0.5, 0.8))
    return Scene(camera=CAMERA, film=FILM, objects=(FLOOR, card), lights=(KEY, SUN))


def sun_box_scene() -> Scene:
    """The cube on the floor under a directional light: on a flat floor only the shadow tells the
    light's direction from its irradiance."""
    return replace(box_scene(), lights=(SUN,))


def four_lights_scene() -> Scene:
    """The ball under four point lights around it: four shadows in view (the side rays of a shadow edge
    trace its own light's visibility only, an outline's every light's: kernels/boundary.py)."""
    lights = tuple(PointLight(f"l{i}", position, (3.0, 3.0, 3.0)) for i, position in
                   enumerate([(-1.0, 2.5, 0.5), (1.0, 2.5, 0.4), (0.8, 2.5, -0.8), (-0.7, 2.5, -0.9)]))
    return replace(ball_scene(), lights=lights)


def two_view_scene() -> Scene:
    """The ball seen from two cameras (weights 1 and 2)."""
    side = Camera(position=(2.5, 2.0, 1.0), look_at=(0.0, 0.3, 0.0), fov=40.0, name="side", weight=2.0)
    return replace(ball_scene(), cameras=(replace(CAMERA, name="front"), side))


@dataclass(frozen=True)
class Free:
    """One freed parameter: its path, the nudge of the reference, and the central difference's step."""

    path: str
    nudge: tuple
    eps: float
    edges_matter: bool = True  # the interior term alone is far off (checked)


@dataclass(frozen=True)
class Config:
    """One scene with the parameters it frees together (one compile, one reference)."""

    name: str
    scene: Callable[[], Scene]
    free: tuple[Free, ...]

    def __repr__(self) -> str:
        return self.name


CONFIGS = [
    Config("ball", ball_scene, (
        Free("lights.key.position", (0.15, 0.0, 0.1), 0.01),
        Free("objects.ball.center", (0.05, 0.0, 0.04), 0.003),
        Free("objects.ball.radius", (0.03,), 0.002),
        Free("camera.position", (0.05, 0.05, 0.0), 0.006),
    )),
    Config("glossy_ball", glossy_ball_scene, (
        Free("lights.key.position", (0.15, 0.0, 0.1), 0.01),
        Free("objects.ball.center", (0.05, 0.0, 0.04), 0.003),
    )),
    Config("box", box_scene, (
        Free("objects.box.translate", (0.05, 0.0, -0.03), 0.003),
        Free("objects.box.rotate.angle", (4.0,), 0.4),
    )),
    Config("card", card_scene, (
        Free("objects.card.origin", (0.05, 0.0, 0.03), 0.003),
        Free("lights.sun.direction", (0.03, 0.0, 0.03), 0.002, edges_matter=False),
    )),
    Config("four_lights", four_lights_scene, (
        Free("lights.l1.position", (0.15, 0.0, 0.1), 0.01),
        Free("lights.l3.position", (0.1, 0.0, 0.15), 0.01),
        Free("objects.ball.center", (0.05, 0.0, 0.04), 0.003),
    )),
    Config("sun_box", sun_box_scene, (Free("lights.sun.direction", (0.03, 0.0, 0.03), 0.004),)),
    Config("two_views", two_view_scene, (
        Free("objects.ball.center", (0.05, 0.0, 0.04), 0.003),
        Free("cameras.side.fov", (1.0,), 0.1),
    )),
]


class Setup:
    """A config's scene on the device, its reference, and the interior and boundary gradients."""

    def __init__(self, config: Config):
        scene = scenes.with_optimize(config.scene(), *(f.path for f in config.free))
        self.free = resolve_all(scene)
        self.dev = DeviceScene(scene, self.free)
        self.start = self.dev.pool_values().copy()
        self.weights = np.array(self.dev.view_weights)
        self.fd_integrator = Integrator(self.dev, spp=FD_SPP)
        nudged = self.start.copy()
        for f in config.free:
            nudged[self.offsets(f.path)] += np.asarray(f.nudge, dtype=np.float32)
        self.reference = self.render(nudged, seed=99)
        self.dev.set_pool(self.start)

        # The interior term on the finite differences' integrator (and samples): a second integrator at
        # the film's spp would compile every forward kernel again for this scene.
        integrator = self.fd_integrator
        loss = ImageLoss(integrator.image, list(self.reference), "mse", clamp=False, weights=list(self.weights))
        integrator.zero_grad()
        integrator.forward(1)
        loss.forward()
        loss.backward()
        integrator.backward(1)
        self.interior = self.dev.pool.grad.to_numpy().astype(np.float64)
        self.boundary = Boundary(integrator, density=EDGE_DENSITY)  # the fit's adaptive plan, denser
        self.dev.pool.grad.fill(0.0)
        self.boundary.backward(7)
        self.edges = self.dev.pool.grad.to_numpy().astype(np.float64)

    def offsets(self, path: str) -> np.ndarray:
        """The pool offsets of the components of ``path``."""
        return self.dev.offsets(path)

    def render(self, pool: np.ndarray, seed: int = 5) -> np.ndarray:
        self.dev.set_pool(pool)
        self.fd_integrator.forward(seed)
        return np.asarray(self.fd_integrator.views_numpy(), dtype=np.float64)

    def loss(self, pool: np.ndarray) -> float:
        diff = self.render(pool) - self.reference
        return float(np.sum(self.weights * np.mean(diff * diff, axis=(1, 2, 3))))

    def central_differences(self, path: str, eps: float) -> np.ndarray:
        fd = []
        for k in self.offsets(path):
            plus, minus = self.start.copy(), self.start.copy()
            plus[k] += eps
            minus[k] -= eps
            fd.append((self.loss(plus) - self.loss(minus)) / (2.0 * eps))
        self.dev.set_pool(self.start)
        return np.array(fd)


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_interior_plus_boundary_matches_central_differences(cpu_backend, config):
    setup = Setup(config)
    failures = []
    for f in config.free:
        k = setup.offsets(f.path)
        fd = setup.central_differences(f.path, f.eps)
        interior, total = setup.interior[k], setup.interior[k] + setup.edges[k]
        error, without = relative_error(total, fd), relative_error(interior, fd)
        if error >= RTOL:
            failures.append(f"{f.path}: interior + boundary {total}, central differences {fd} ({error:.1%}; "
                            f"interior alone {without:.1%})")
        if f.edges_matter and without < 3 * RTOL:
            failures.append(f"{f.path}: not an edge-dominated configuration (interior alone {without:.1%})")
    assert not failures, "\n".join(failures)


def test_nothing_to_do_without_moving_edges(cpu_backend):
    """Freeing only an albedo and an intensity moves no edge: no boundary pass at all."""
    scene = scenes.with_optimize(ball_scene(), "objects.ball.albedo", "lights.key.intensity")
    dev = DeviceScene(scene, resolve_all(scene))
    assert make_boundary(Integrator(dev)) is None


def test_light_position_alone_samples_shadows_only(cpu_backend):
    """With only a light free, outlines stay put: the candidates are that light's shadow curves."""
    scene = scenes.with_optimize(ball_scene(), "lights.key.position")
    boundary = make_boundary(Integrator(DeviceScene(scene, resolve_all(scene))))
    assert boundary.n_candidates == 1 + 4  # the ball's outline seen from the light, the floor's 4 edges


def test_mesh_edges_leave_out_flat_diagonals(cpu_backend):
    """A cube's 12 triangles have 18 distinct edges; the 6 diagonals join coplanar faces."""
    scene = scenes.with_optimize(box_scene(), "objects.box.translate")
    assert len(mesh_edges(DeviceScene(scene, resolve_all(scene)))) == 12


def test_the_gradient_at_64_and_at_2048_spp_agree_within_the_noise(cpu_backend):
    """The whole gradient a fit uses (LossGradient: decorrelated shading term plus boundary terms, summed
    in float64 bands) has the same expectation at any spp: 8 seeds at 64 spp, averaged, against one at
    2048 spp, within 4 standard errors (the spread of the 8 plus that of 4 at 2048 spp: the boundary
    term's noise does not shrink with spp, so the high-spp side's error is measured, not assumed)."""
    from raydiff.optim.gradient import LossGradient

    scene = scenes.with_optimize(ball_scene(), "lights.key.position", "objects.ball.center")
    dev = DeviceScene(scene, resolve_all(scene))
    start = dev.pool_values().copy()
    nudged = start.copy()
    nudged[dev.free_offsets] += np.array([0.1, 0.0, 0.1, 0.04, 0.0, 0.03], dtype=np.float32)
    dev.set_pool(nudged)
    # The reference from the 2048-spp integrator that the high side uses (another integrator, at another
    # spp, would compile its forward kernels once more).
    integrators = {spp: Integrator(dev, spp=spp) for spp in (64, 2048)}
    integrators[2048].forward(99)
    reference = integrators[2048].views_numpy()
    dev.set_pool(start)

    def gradients(spp: int, seeds) -> np.ndarray:
        integrator = integrators[spp]
        loss = ImageLoss(integrator.image, reference, "mse", clamp=False)
        gradient = LossGradient(integrator, loss, boundary=make_boundary(integrator))
        out = []
        for seed in seeds:
            gradient(seed)
            out.append(dev.pool.grad.to_numpy()[dev.free_offsets].astype(np.float64))
        return np.array(out)

    low = gradients(64, range(8))
    high = gradients(2048, range(100, 104))
    variance = low.var(axis=0, ddof=1) / len(low) + high.var(axis=0, ddof=1) / len(high)
    allowed = 4.0 * np.sqrt(variance) + 1e-3 * np.abs(high).max()
    assert np.all(np.abs(low.mean(axis=0) - high.mean(axis=0)) < allowed), (low.mean(axis=0), high.mean(axis=0), allowed)


def test_a_lit_spheres_side_of_its_outline_is_shaded_at_the_outline(cpu_backend):
    """A lit sphere on black, its radius free, and a loss that is the plain sum of the image: the gradient
    is the outline's term (the sphere's radiance at its outline times the outline's speed) plus the
    interior's, and matches the central difference of the image's sum within 0.5%. Shading the
    sphere's side a hundredth of a pixel inside the outline, where its normal has already turned by a
    degree or two (it turns as the square root of the distance), was 1.6% off here."""
    ball = Sphere("ball", center=(0.0, 0.5, 0.0), radius=0.5, albedo=(0.8, 0.3, 0.2))
    camera = Camera(position=(1.732, 2.232, 1.732), look_at=(0.0, 0.5, 0.0), fov=40.0)
    scene = Scene(camera=camera, film=Film(64, 48, 256), objects=(ball,),
                  lights=(DirectionalLight("sun", scenes.unit((-0.3, -1.0, -0.6)), (2.0, 2.0, 2.0)),))
    scene = scenes.with_optimize(scene, "objects.ball.radius")
    dev = DeviceScene(scene, resolve_all(scene))
    integrator = Integrator(dev, spp=256)
    boundary = Boundary(integrator, samples_per_edge=EDGE_SAMPLES)
    integrator.forward(3)
    integrator.zero_grad()
    integrator.image.grad.fill(1.0)
    integrator.backward(3)
    boundary.backward(11)
    k = int(dev.offsets("objects.ball.radius")[0])
    gradient = float(dev.pool.grad.to_numpy()[k])

    start, h = dev.pool_values().copy(), 0.02
    sums = []
    for sign in (1.0, -1.0):
        pool = start.copy()
        pool[k] += sign * h
        dev.set_pool(pool)
        integrator.forward(3)
        sums.append(float(np.sum(integrator.to_numpy().astype(np.float64))))
    fd = (sums[0] - sums[1]) / (2.0 * h)
    assert gradient == pytest.approx(fd, rel=5e-3), (gradient, fd)


def test_the_adaptive_plan_follows_the_curves_lengths_and_leaves_none_out():
    """Shares proportional to the visible lengths plus a floor, every share positive, DENSITY samples per
    pixel of curve, at least one per curve and at most the fields' size; all equal when nothing is seen."""
    from raydiff.kernels.boundary import DENSITY, FLOOR_SHARE, plan

    lengths = np.array([30.0, 0.0, 10.0, 0.0])
    cdf, count = plan(lengths, most=10_000)
    share = np.diff(cdf.astype(np.float64))
    floor = FLOOR_SHARE * lengths.sum() / len(lengths)
    assert cdf[0] == 0.0 and cdf[-1] == 1.0 and np.all(share > 0)
    np.testing.assert_allclose(share, (lengths + floor) / (lengths + floor).sum(), rtol=1e-5)  # float32 bounds
    assert count == int(np.ceil(DENSITY * 40.0 * (1 + FLOOR_SHARE)))
    assert plan(lengths, most=50)[1] == 50
    cdf, count = plan(np.zeros(5), most=100)
    np.testing.assert_allclose(np.diff(cdf), 0.2, rtol=1e-6)
    assert count == 5
