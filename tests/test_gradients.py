"""Gradients of the image loss against central finite differences, for every free-parameter kind.

In Mitsuba 3's test style, each case is a small config: a name, a scene builder, the dotted path of the
parameter and a finite-difference step. The pipeline is the real one, as :class:`raydiff.optim.fit.Fitter`
builds it:

    integrator.forward(seed) -> ImageLoss.forward -> ImageLoss.backward -> integrator.backward(seed)

with one reference per view and the cameras' ``weight``\\ s, and the gradient is read from ``pool.grad``
at ``dev.free_offsets``. The finite difference moves one pool entry by +-eps with ``dev.set_pool``,
renders with the *same* seed (common random numbers: the same camera rays on both sides) and evaluates
the same loss (the sum over views of weight x MSE) against the same fixed references, in float64 on the
host so that summing thousands of float32 terms does not drown a small difference.

What is covered (:data:`CONFIGS`): every kind of :data:`raydiff.scene.parameters.KINDS` that can be freed
(:func:`test_every_free_kind_has_a_case` fails for a new kind without a case):

- cameras: ``position``, ``look_at`` and ``fov`` of a single ``camera`` (a view-filling wall; the position
  also in front of a view-filling sphere and inside one), and a scene with two ``cameras:`` of different
  weights, where the second camera's position and the wall's corner (shared by both views) are checked;
- objects: ``albedo`` of a sphere, a quad and a mesh; a sphere's ``center`` and ``radius`` (seen from
  outside, and from inside: the far root); a quad's ``origin``, ``edge1`` and ``edge2``; a mesh's
  ``translate``, ``rotate.axis``, ``rotate.angle`` and ``scale``;
- lights: a point light's ``position`` and ``intensity`` (two lights and four: the shading gradient's loop
  over them is unrolled, the forward pass's a run-time loop), a directional light's ``direction`` and
  ``irradiance``;
- glossy surfaces (rough conductors, issue 9): ``material.alpha`` of a sphere, a quad and a mesh,
  ``material.specular_reflectance`` of a sphere and a mesh, and the terms that depend on the light's
  position and the normal through the BSDF (the half vector, the masking terms, the Fresnel cosine): the
  lights' positions over floating glossy objects, and a camera's position, a sphere's centre and radius,
  a mesh's translation and rotation and a light's position on view-filling glossy surfaces;
- rough plastics (issue 9): ``material.diffuse_reflectance`` of a sphere, a quad and a mesh,
  ``material.specular_reflectance`` of a sphere and a mesh, the lights' positions over floating plastic
  objects, and a camera's position, a sphere's centre and a light's position on a view-filling plastic
  sphere (the half vector, the masking terms and both cosines the transmittance table is read at);
- mirrors (smooth conductors at max_depth 3, issue 9): a copper mirror fills the view and shows a diffuse
  ceiling lit by a point light that the camera sees only in it: the light's position and intensity, the
  mirror's ``material.specular_reflectance`` and plane (``origin``), the ceiling's albedo and the camera's
  position, through the reflected ray recomputed from the first hit (the reflected hits are compared too);
- the backward pass over several sample batches (it re-traces the visibility of all but the last), with
  lights and albedos free and with the camera and a sphere free.

The scenes are chosen so that the image is smooth in every tested parameter, so that the visibility term
which the integrator does not differentiate is really zero: for lights and albedos, objects float in front
of nothing, lit from the camera's side, or a lone quad has no occluder; for cameras and geometry, whose
outlines and shadows would move, every pixel sees one primitive (a wall quad, a sphere's cap, the inside
of a sphere, one triangle of a mesh's face) lit by every light (the view-filling builders at the end of
tests/scene_builders.py). Each check also asserts that the +-eps renders record the hits of the starting
one (in the view-filling scenes, its visible lights too), and
:func:`test_view_filling_scenes_see_one_lit_primitive` that the view-filling scenes really see one
primitive, lit by every light, everywhere. (With several batches, the records are the last batch's.)

Unit directions (a directional light's ``direction``, a rotation's ``axis``) are perturbed per component
without renormalising: the kernels normalise them, so the finite difference is the derivative of the
render in the raw pool entry, which is the gradient the optimiser steps along before it normalises again;
:func:`test_unit_direction_gradients_are_tangent` checks that it has no radial part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from raydiff.device.hitrecord import MISS
from raydiff.device.scene import DeviceScene
from raydiff.kernels.integrator import Integrator
from raydiff.optim.loss import ImageLoss
from raydiff.scene.parameters import KINDS, resolve_all
from raydiff.scene.model import Scene

import scene_builders as scenes

SEED = 3
RTOL = 0.01  # 1% relative, per component (or over the vector, for Config.vector)


@dataclass(frozen=True)
class Config:
    """One gradient check.

    Attributes
    ----------
    name : str
        The test id.
    scene : callable
        Builds the scene (its ``optimize`` section must free ``path``).
    path : str
        The dotted path of the parameter checked, e.g. ``lights.key.position``.
    eps : float
        The finite-difference step; if ``relative``, times max(1, |value|) per component.
    relative : bool
    max_batch_samples : int, optional
        Render in batches of this many samples (None: one batch).
    vector : bool
        Compare ``|ad - fd| / |fd|`` over the whole vector (relative L2) instead of each component: for a
        parameter some of whose components the image does not depend on, so that both derivatives of
        those are rounding noise (a mesh's scale along the plane of the one face in view).
    """

    name: str
    scene: Callable[[], Scene]
    path: str
    eps: float
    relative: bool = False
    max_batch_samples: int | None = None
    vector: bool = False

    def __repr__(self) -> str:
        return self.name


FLOATING_PIXELS = 48 * 36  # scenes.floating_scene's film
DOME_PIXELS = 32 * 24  # scenes.view_filling_dome_scene's film
CONFIGS = [
    # Two lights (the shading loop is unrolled with ti.static) and a sphere, a quad and a mesh.
    Config("key_position", scenes.floating_scene, "lights.key.position", 1e-2, relative=True),
    Config("key_intensity", scenes.floating_scene, "lights.key.intensity", 1e-2),
    Config("fill_position", scenes.floating_scene, "lights.fill.position", 1e-2, relative=True),
    Config("fill_intensity", scenes.floating_scene, "lights.fill.intensity", 1e-2),
    Config("sphere_albedo", scenes.floating_scene, "objects.ball.albedo", 1e-2),
    Config("quad_albedo", scenes.floating_scene, "objects.panel.albedo", 1e-2),
    Config("mesh_albedo", scenes.floating_scene, "objects.box.albedo", 1e-2),
    # The same scene in 4 batches of 1 sample per pixel: the backward pass re-traces 3 of them.
    Config("batched_key_position", scenes.floating_scene, "lights.key.position", 1e-2, True, FLOATING_PIXELS),
    Config("batched_fill_intensity", scenes.floating_scene, "lights.fill.intensity", 1e-2, False, FLOATING_PIXELS),
    Config("batched_mesh_albedo", scenes.floating_scene, "objects.box.albedo", 1e-2, False, FLOATING_PIXELS),
    # Four lights: the forward pass loops over them at run time, the shading gradient is unrolled.
    Config("four_lights_key_position", scenes.four_light_floating_scene, "lights.key.position", 1e-2, relative=True),
    Config("four_lights_rim_position", scenes.four_light_floating_scene, "lights.rim.position", 1e-2, relative=True),
    Config("four_lights_low_position", scenes.four_light_floating_scene, "lights.low.position", 1e-2, relative=True),
    Config("four_lights_low_intensity", scenes.four_light_floating_scene, "lights.low.intensity", 1e-2),
    # One light over one quad, no occluder at all.
    Config("lone_position", scenes.lone_floor_scene, "lights.key.position", 1e-2, relative=True),
    Config("lone_intensity", scenes.lone_floor_scene, "lights.key.intensity", 1e-2),
    Config("lone_quad_albedo", scenes.lone_floor_scene, "objects.floor.albedo", 1e-2),
    # --- view-filling scenes: shading alone carries the change ---------------------------------------------
    # A tilted wall quad and nothing else in view: the camera moves, turns and zooms; the wall moves and tilts.
    Config("wall_camera_position", scenes.view_filling_wall_scene, "camera.position", 1e-2, relative=True),
    Config("wall_camera_look_at", scenes.view_filling_wall_scene, "camera.look_at", 1e-2, relative=True),
    Config("wall_camera_fov", scenes.view_filling_wall_scene, "camera.fov", 0.1),  # degrees
    Config("wall_quad_origin", scenes.view_filling_wall_scene, "objects.wall.origin", 1e-2),
    Config("wall_quad_edge1", scenes.view_filling_wall_scene, "objects.wall.edge1", 1e-2),
    Config("wall_quad_edge2", scenes.view_filling_wall_scene, "objects.wall.edge2", 1e-2),
    # The same wall seen by two weighted cameras: one camera's own parameter, and one both views share.
    Config("two_views_camera_position", scenes.view_filling_two_view_wall_scene, "cameras.far.position", 1e-2, True),
    Config("two_views_quad_origin", scenes.view_filling_two_view_wall_scene, "objects.wall.origin", 1e-2),
    # A sphere's cap fills the view, lit by a point light and a sun.
    Config("globe_camera_position", scenes.view_filling_sphere_scene, "camera.position", 1e-2, relative=True),
    Config("globe_sphere_center", scenes.view_filling_sphere_scene, "objects.globe.center", 1e-2),
    Config("globe_sphere_radius", scenes.view_filling_sphere_scene, "objects.globe.radius", 1e-2),
    Config("globe_sun_direction", scenes.view_filling_sphere_scene, "lights.sun.direction", 1e-2),
    Config("globe_sun_irradiance", scenes.view_filling_sphere_scene, "lights.sun.irradiance", 1e-2),
    # One triangle of a big cube mesh's face fills the view. Only the scale along the face's normal moves
    # the face's plane: the other two components' derivatives are zero (rounding noise on both sides).
    Config("slab_mesh_translate", scenes.view_filling_mesh_scene, "objects.slab.translate", 1e-2),
    Config("slab_mesh_rotate_axis", scenes.view_filling_mesh_scene, "objects.slab.rotate.axis", 1e-2),
    Config("slab_mesh_rotate_angle", scenes.view_filling_mesh_scene, "objects.slab.rotate.angle", 0.1),  # degrees
    Config("slab_mesh_scale", scenes.view_filling_mesh_scene, "objects.slab.scale", 1e-2, vector=True),
    # --- glossy surfaces (issue 9): rough conductors with their highlights in view ------------------------
    # Floating gold, perfect-reflector and copper objects: roughness and specular colour of a sphere and a
    # mesh, a quad's roughness, and both lights' positions through the BSDF's half vector.
    Config("glossy_sphere_alpha", scenes.glossy_floating_scene, "objects.ball.material.alpha", 1e-3),
    Config("glossy_sphere_specular", scenes.glossy_floating_scene, "objects.ball.material.specular_reflectance", 1e-2),
    Config("glossy_quad_alpha", scenes.glossy_floating_scene, "objects.panel.material.alpha", 1e-3),
    Config("glossy_mesh_alpha", scenes.glossy_floating_scene, "objects.box.material.alpha", 1e-3),
    Config("glossy_mesh_specular", scenes.glossy_floating_scene, "objects.box.material.specular_reflectance", 1e-2),
    Config("glossy_key_position", scenes.glossy_floating_scene, "lights.key.position", 1e-2, relative=True),
    Config("glossy_fill_position", scenes.glossy_floating_scene, "lights.fill.position", 1e-2, relative=True),
    # A gold sphere's cap fills the view, its highlight in it: the normal and both directions move.
    Config("glossy_globe_camera_position", scenes.view_filling_glossy_sphere_scene, "camera.position", 1e-2, True),
    Config("glossy_globe_center", scenes.view_filling_glossy_sphere_scene, "objects.globe.center", 1e-2),
    Config("glossy_globe_radius", scenes.view_filling_glossy_sphere_scene, "objects.globe.radius", 1e-2),
    Config("glossy_globe_light_position", scenes.view_filling_glossy_sphere_scene, "lights.key.position", 1e-2, True),
    # A copper mesh face fills the view: its pose turns the normal under the highlight.
    Config("glossy_slab_translate", scenes.view_filling_glossy_mesh_scene, "objects.slab.translate", 1e-2),
    Config("glossy_slab_rotate_angle", scenes.view_filling_glossy_mesh_scene, "objects.slab.rotate.angle", 0.1),
    Config("glossy_slab_alpha", scenes.view_filling_glossy_mesh_scene, "objects.slab.material.alpha", 1e-3),
    # --- rough plastics (issue 9): both lobes, the transmittance tables looked up at both cosines ----------
    # Floating plastic objects: the diffuse and specular colours of a sphere and a mesh, a quad's diffuse
    # colour, and both lights' positions (the half vector, the masking terms and the tables' cosines).
    Config("plastic_sphere_diffuse", scenes.plastic_floating_scene, "objects.ball.material.diffuse_reflectance", 1e-2),
    Config("plastic_sphere_specular", scenes.plastic_floating_scene, "objects.ball.material.specular_reflectance", 1e-2),
    Config("plastic_quad_diffuse", scenes.plastic_floating_scene, "objects.panel.material.diffuse_reflectance", 1e-2),
    Config("plastic_mesh_diffuse", scenes.plastic_floating_scene, "objects.box.material.diffuse_reflectance", 1e-2),
    Config("plastic_mesh_specular", scenes.plastic_floating_scene, "objects.box.material.specular_reflectance", 1e-2),
    Config("plastic_key_position", scenes.plastic_floating_scene, "lights.key.position", 1e-2, relative=True),
    Config("plastic_fill_position", scenes.plastic_floating_scene, "lights.fill.position", 1e-2, relative=True),
    # A plastic sphere's cap fills the view, its highlight in it: the normal and both directions move.
    Config("plastic_globe_camera_position", scenes.view_filling_plastic_sphere_scene, "camera.position", 1e-2, True),
    Config("plastic_globe_center", scenes.view_filling_plastic_sphere_scene, "objects.globe.center", 1e-2),
    Config("plastic_globe_diffuse", scenes.view_filling_plastic_sphere_scene,
           "objects.globe.material.diffuse_reflectance", 1e-2),
    Config("plastic_globe_light_position", scenes.view_filling_plastic_sphere_scene, "lights.key.position", 1e-2, True),
    # The camera inside a sphere (its far root), in 4 batches of 1 sample per pixel: the backward pass
    # re-traces the visibility of 3 batches with the camera and the geometry free.
    Config("batched_dome_camera_position", scenes.view_filling_dome_scene, "camera.position", 1e-2, True, DOME_PIXELS),
    Config("batched_dome_center", scenes.view_filling_dome_scene, "objects.dome.center", 1e-2, False, DOME_PIXELS),
    Config("batched_dome_radius", scenes.view_filling_dome_scene, "objects.dome.radius", 1e-2, False, DOME_PIXELS),
    # --- mirrors (issue 9): a copper mirror fills the view, the lit ceiling is seen only in it ---------------
    # The light and the ceiling through the reflected ray's hit, the mirror's colour through its Fresnel
    # weight, its plane and the camera through the reflected ray itself (the last two with a smaller step:
    # at 1e-2 the curvature of the loss in them is 1-8% of the central difference; at 1e-3, 0.1-0.2%).
    Config("mirror_light_position", scenes.mirror_ceiling_scene, "lights.key.position", 1e-2, relative=True),
    Config("mirror_light_intensity", scenes.mirror_ceiling_scene, "lights.key.intensity", 1e-2),
    Config("mirror_specular", scenes.mirror_ceiling_scene, "objects.mirror.material.specular_reflectance", 1e-2),
    Config("mirror_origin", scenes.mirror_ceiling_scene, "objects.mirror.origin", 1e-3, vector=True),
    Config("mirror_ceiling_albedo", scenes.mirror_ceiling_scene, "objects.ceiling.albedo", 1e-2),
    Config("mirror_camera_position", scenes.mirror_ceiling_scene, "camera.position", 1e-3, relative=True),
    # --- smooth shading (issue 9: OBJ normals): a smooth-shaded triangle fills the view ---------------------
    # Its pose moves the hit point, its barycentrics and its corners' normals (the scale through the
    # inverse transpose); the light's position turns the shading on the interpolated normal.
    Config("smooth_leaf_translate", scenes.view_filling_smooth_mesh_scene, "objects.leaf.translate", 1e-2),
    Config("smooth_leaf_rotate_angle", scenes.view_filling_smooth_mesh_scene, "objects.leaf.rotate.angle", 0.1),
    Config("smooth_leaf_rotate_axis", scenes.view_filling_smooth_mesh_scene, "objects.leaf.rotate.axis", 1e-2),
    Config("smooth_leaf_scale", scenes.view_filling_smooth_mesh_scene, "objects.leaf.scale", 1e-2),
    Config("smooth_leaf_light_position", scenes.view_filling_smooth_mesh_scene, "lights.key.position", 1e-2, True),
    Config("glossy_smooth_leaf_rotate_angle", scenes.view_filling_glossy_smooth_mesh_scene,
           "objects.leaf.rotate.angle", 0.1),
    Config("glossy_smooth_leaf_light_position", scenes.view_filling_glossy_smooth_mesh_scene, "lights.key.position",
           1e-2, True),
]

#: The view-filling builders: every sample of every view hits one primitive, which sees every light.
VIEW_FILLING = (
    scenes.view_filling_wall_scene,
    scenes.view_filling_two_view_wall_scene,
    scenes.view_filling_sphere_scene,
    scenes.view_filling_mesh_scene,
    scenes.view_filling_dome_scene,
    scenes.view_filling_glossy_sphere_scene,
    scenes.view_filling_glossy_mesh_scene,
    scenes.view_filling_plastic_sphere_scene,
    scenes.view_filling_smooth_mesh_scene,
    scenes.view_filling_glossy_smooth_mesh_scene,
)


class Setup:
    """A scene on the device with its integrator, fixed references, and the gradient at the start.

    The loss is built as :class:`raydiff.optim.fit.Fitter` builds it: one reference per view and each
    camera's ``weight`` (unclamped: the references are high dynamic range); :meth:`loss_of` is the same
    loss on the host.

    Parameters
    ----------
    scene : Scene
        The scene; its ``optimize`` section says what is free.
    max_batch_samples : int, optional
        Passed to the :class:`Integrator` (None: its default, one batch here).
    primary_seeds : sequence of int
        Passed to the :class:`Integrator`: the sets of a primary cache (none: no cache).
    """

    def __init__(self, scene: Scene, max_batch_samples: int | None, primary_seeds=()):
        self.scene = scene
        self.free = resolve_all(scene)
        self.dev = DeviceScene(scene, self.free)
        kwargs = {} if max_batch_samples is None else {"max_batch_samples": max_batch_samples}
        kwargs["primary_seeds"] = primary_seeds  # tests/test_primary.py: the same checks with a primary cache
        self.integrator = Integrator(self.dev, **kwargs)
        self.start = self.dev.pool_values().copy()
        self.weights = np.array([c.weight for c in scene.cameras], dtype=np.float64)
        # Fixed references: the starting render, dimmed (so every parameter has a non-zero gradient).
        self.integrator.forward(SEED)
        self.reference = (0.6 * self.images()).astype(np.float32)  # (views, height, width, 3)
        self.loss = ImageLoss(self.integrator.image, self.reference, "mse", clamp=False, weights=self.weights)
        self.measure()

    def measure(self) -> None:
        """The start's hit records and visibility masks, and the gradient there (``grad``), on the samples
        of :data:`SEED` (again after a change of those samples: tests/test_primary.py's refreshed set)."""
        self.integrator.forward(SEED)
        self.hit, self.visible = self.records()
        self.integrator.zero_grad()
        self.integrator.forward(SEED)
        self.loss.forward()
        self.loss.backward()
        self.integrator.backward(SEED)
        self.grad = self.dev.pool.grad.to_numpy().astype(np.float64)

    def images(self) -> np.ndarray:
        """The current render of every view, (views, height, width, 3) float64."""
        return np.stack(self.integrator.views_numpy()).astype(np.float64)

    def records(self) -> tuple[np.ndarray, np.ndarray]:
        """The hit records (with a mirror's reflected rays', after the first hit's) and visibility masks of the
        last render (of its last batch of samples)."""
        hit = self.integrator.hit.to_numpy()
        if self.integrator.bounce_hit is not None:
            hit = np.concatenate([hit[..., None], self.integrator.bounce_hit.to_numpy()], axis=-1)
        return hit, self.integrator.visible.to_numpy()

    def offsets(self, path: str) -> np.ndarray:
        """The pool offsets of the components of ``path``."""
        return self.dev.offsets(path)

    def loss_of(self, pool: np.ndarray) -> float:
        """The loss at pool values ``pool`` (left in the pool), on the host in float64: the sum over views
        of the camera's weight times the view's MSE, as :class:`ImageLoss` computes it on the device."""
        self.dev.set_pool(pool)
        self.integrator.forward(SEED)
        diff = self.images() - self.reference
        return float(np.sum(self.weights * np.mean(diff * diff, axis=(1, 2, 3))))

    def central_difference(self, k: int, eps: float) -> tuple[float, int, int]:
        """The derivative of the loss in one pool entry by central differences.

        Parameters
        ----------
        k : int
            The pool offset.
        eps : float
            The step: the loss is evaluated at ``pool[k] +- eps``, every other entry at its start.

        Returns
        -------
        derivative : float
        hits, masks : int
            How many samples of the two renders differ from the start's in their hit record, and in
            their visibility mask (of the last batch of samples).
        """
        sides, hits, masks = [], 0, 0
        try:
            for sign in (1.0, -1.0):
                pool = self.start.copy()
                pool[k] += sign * eps
                sides.append(self.loss_of(pool))
                hit, visible = self.records()
                hits += int(np.count_nonzero(hit != self.hit))
                masks += int(np.count_nonzero(visible != self.visible))
        finally:
            self.dev.set_pool(self.start)
        return (sides[0] - sides[1]) / (2.0 * eps), hits, masks


@pytest.fixture(scope="module")
def setups(cpu_backend):
    """Builds (and compiles) each distinct scene and batching once for the whole module."""
    cache: dict = {}

    def get(config: Config) -> Setup:
        key = (config.scene, config.max_batch_samples)
        if key not in cache:
            cache[key] = Setup(config.scene(), config.max_batch_samples)
        return cache[key]

    return get


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_gradient_matches_central_differences(setups, config):
    setup = setups(config)
    offsets = setup.offsets(config.path)
    ad = setup.grad[offsets]
    fd = np.zeros(len(offsets))
    for i, k in enumerate(offsets):
        value = float(setup.start[k])
        eps = config.eps * max(1.0, abs(value)) if config.relative else config.eps
        fd[i], hits, masks = setup.central_difference(int(k), eps)
        assert hits == 0, (
            f"{config.name} pool[{k}] +-{eps:g}: {hits} samples hit another primitive than at the start: "
            "an outline moves, which the integrator does not differentiate"
        )
        # (Moving a light over the floating objects may move its terminator over a sample, where its
        # irradiance is zero on both sides: harmless. The view-filling scenes have no terminator in view.)
        assert masks == 0 or config.scene not in VIEW_FILLING, (
            f"{config.name} pool[{k}] +-{eps:g}: {masks} samples see other lights than at the start: "
            "a shadow edge moves, which the integrator does not differentiate"
        )
    if config.vector:
        assert np.any(fd != 0.0), f"{config.path}: the loss does not depend on it in this scene"
        rel = np.linalg.norm(ad - fd) / np.linalg.norm(fd)
        assert rel < RTOL, f"{config.name}: autodiff {ad}, central difference {fd} (relative L2 {rel:.2%})"
        return
    for i, k in enumerate(offsets):
        assert fd[i] != 0.0, f"{config.path}: the loss does not depend on pool[{k}] in this scene"
        rel = abs(ad[i] - fd[i]) / abs(fd[i])
        assert rel < RTOL, (
            f"{config.name} pool[{k}]: autodiff {ad[i]:.6g}, central difference {fd[i]:.6g} ({rel:.2%})"
        )


def test_every_free_kind_has_a_case():
    """A kind added to the parameter table without a gradient check here fails this test (no device)."""
    checked = set()
    for config in CONFIGS:
        resolved = next(r for r in resolve_all(config.scene()) if r.path == config.path)
        checked.add((resolved.kind.group, resolved.kind.field, resolved.kind.types))
    missing = [f"{k.group}.{k.field}" for k in KINDS if k.free and (k.group, k.field, k.types) not in checked]
    assert not missing, f"no gradient check for {', '.join(missing)}"


@pytest.mark.parametrize("builder", VIEW_FILLING, ids=lambda b: b.__name__)
def test_view_filling_scenes_see_one_lit_primitive(setups, builder):
    """Every sample of every view of the starting render hits the same primitive and sees every light."""
    setup = setups(next(c for c in CONFIGS if c.scene is builder))
    codes = np.unique(setup.hit)
    assert len(codes) == 1 and codes[0] != MISS, f"{builder.__name__}: the film sees hit records {codes}"
    every_light = (1 << len(setup.scene.lights)) - 1
    assert np.all(setup.visible == every_light), f"{builder.__name__}: masks {np.unique(setup.visible)}"


UNIT_CONFIGS = [c for c in CONFIGS if c.path.endswith((".direction", ".rotate.axis"))]


@pytest.mark.parametrize("config", UNIT_CONFIGS, ids=repr)
def test_unit_direction_gradients_are_tangent(setups, config):
    """The kernels normalise directions, so their gradient is orthogonal to the (unit) direction."""
    setup = setups(config)
    offsets = setup.offsets(config.path)
    direction, ad = setup.start[offsets].astype(np.float64), setup.grad[offsets]
    assert np.linalg.norm(direction) == pytest.approx(1.0, abs=1e-6)
    assert abs(ad @ direction) < 1e-4 * np.linalg.norm(ad), f"{config.name}: gradient {ad}, direction {direction}"


@pytest.mark.parametrize(
    "config",
    [CONFIGS[0], next(c for c in CONFIGS if c.scene is scenes.view_filling_two_view_wall_scene)],
    ids=["one_view", "two_weighted_views"],
)
def test_loss_value_matches_host_loss(setups, config):
    """The device's ImageLoss agrees with the float64 host loss used by the finite differences (for two
    views: the same weights, so that the finite differences check the gradient a fit uses)."""
    setup = setups(config)
    setup.integrator.forward(SEED)
    setup.loss.forward()
    host = setup.loss_of(setup.start)
    assert setup.loss.read() == pytest.approx(host, rel=1e-5)
