"""Parity with Mitsuba 3: the same scene rendered by raydiff and by Mitsuba's path tracer agrees.

Both render 96x72 pixels at 256 samples per pixel with a box filter. Point and directional lights are both
delta lights, sampled exactly, so with one light the only noise is the pixel footprint's (at silhouettes
and shadow edges). With several lights Mitsuba's path tracer picks one light per sample, whose noise would
dominate the comparison, so the Mitsuba reference is the sum of one render per light (light transport is
linear in the lights), while raydiff renders all lights at once. A scene with several cameras is compared
view by view: raydiff's ``render_views`` (or ``render(..., view=i)``) against Mitsuba's render of
``scene.cameras[i]``. The measure is the relative RMSE ``sqrt(mean((a - b)^2)) / sqrt(mean(b^2))`` over
all pixels and channels.

Glossy surfaces (issue 9: ``roughconductor``, GGX) are compared on a scene with highlights on a sphere, a
second sphere and a cube mesh, at three roughness values. A highlight varies strongly within a pixel, so
Mitsuba renders those with its ``stratified`` sampler (16 x 16 jittered strata, as raydiff samples a
pixel): with its ``independent`` sampler the pixel footprint's noise alone is 1.7-3.6% relative RMSE at
256 spp (two seeds of Mitsuba against each other), with ``stratified`` 0.33-0.57%, and raydiff's
difference from it 0.37-0.58% (``python benchmarks/glossy_parity.py`` prints the three). Rough plastics
(``roughplastic``, GGX) are compared the same way on the same scene with plastic objects, at two
roughness values (``python benchmarks/glossy_parity.py --material roughplastic``).

Conventions the directional light must share with Mitsuba's ``directional`` emitter: ``direction`` is the
way the light travels (shadow rays go along ``-direction``) and a diffuse surface facing it has radiance
``albedo / pi * E * cos(theta)``, whatever its distance (tests/test_mitsuba_oracle.py checks Mitsuba's
side against this closed form).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import raydiff
from raydiff.scene.model import DirectionalLight, Sphere

from mitsuba_oracle import render_mitsuba
import scene_builders as scenes

pytestmark = pytest.mark.parity

SPP = 256
MAX_RELATIVE_RMSE = 0.02


def relative_rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))


def _mitsuba_per_light(scene, view: int = 0, sampler: str = "independent", spp: int = SPP) -> list[np.ndarray]:
    """Mitsuba's render of ``scene.cameras[view]`` under each light alone, in the scene's light order."""
    return [render_mitsuba(replace(scene, lights=(light,)), spp=spp, view=view, sampler=sampler)
            for light in scene.lights]


def _black_with_neighbours(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels that are exactly black, as are their 8 neighbours (outside the image counts as lit)."""
    black = np.pad(image.max(axis=-1) == 0.0, 1, constant_values=False)
    h, w = image.shape[:2]
    out = np.ones((h, w), dtype=bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out &= black[dy : dy + h, dx : dx + w]
    return out


def _check(scene, ours, per_light, blockers, min_shadow_pixels: int, view: int = 0) -> float:
    """Check the first light's hard shadow is there in ``scene.cameras[view]`` and compare; the RMSE."""
    theirs = sum(per_light)
    assert ours.shape == theirs.shape == (scene.film.height, scene.film.width, 3)
    # Floor pixels (clear of every object) that the first light leaves exactly black, and their neighbours
    # too (so that none is on the shadow's edge, where another set of samples may catch some light): the
    # inside of its hard shadow.
    seen_from = scene.with_cameras((scene.cameras[view],))
    shadow = scenes.open_floor_pixels(seen_from, blockers) & _black_with_neighbours(per_light[0])
    label = f"view {view} ({scene.cameras[view].name})"
    assert shadow.sum() >= min_shadow_pixels, f"{label}: only {shadow.sum()} floor pixels are in the hard shadow"
    if len(scene.lights) == 1:
        assert np.all(ours[shadow] == 0.0), f"{label}: light leaks into the hard shadow"
    rmse = relative_rmse(ours, theirs)
    assert rmse <= MAX_RELATIVE_RMSE, f"{label}: relative RMSE vs Mitsuba 3 = {rmse:.4f} (limit {MAX_RELATIVE_RMSE})"
    print(f"{label}: relative RMSE vs Mitsuba 3: {rmse:.4%} ({shadow.sum()} pixels of hard shadow)")
    return rmse


def _compare(scene, blockers, min_shadow_pixels: int) -> None:
    """Render with both, check the key light's hard shadow is there, and compare."""
    ours = raydiff.render(scene, spp=SPP, seed=0)
    _check(scene, ours, _mitsuba_per_light(scene), blockers, min_shadow_pixels)


def test_spheres_with_shadow_match_mitsuba(mitsuba, cpu):
    """Three spheres on a floor under two lights; the key light's shadows are hard."""
    scene = scenes.spheres_scene(96, 72, SPP)
    blockers = [(o.center, o.radius) for o in scene.objects if isinstance(o, Sphere)]
    _compare(scene, blockers, min_shadow_pixels=100)


def test_cube_mesh_matches_mitsuba(mitsuba, cpu):
    """assets/cube.obj scaled, rotated and translated, standing on a floor and casting a shadow."""
    scene = scenes.cube_parity_scene(96, 72, SPP)
    box = scene.object("box")
    bounding_radius = 0.5 * float(np.linalg.norm(box.scale))
    _compare(scene, [(box.translate, bounding_radius)], min_shadow_pixels=100)


def _cube_bounds(scene, name: str):
    """A cube mesh's bounding sphere (centre, radius), for :func:`scene_builders.open_floor_pixels`."""
    box = scene.object(name)
    return box.translate, 0.5 * float(np.linalg.norm(box.scale))


def test_directional_light_with_shadows_matches_mitsuba(mitsuba, cpu):
    """A sphere and a cube mesh on a floor under one directional light: hard shadows, exactly black.

    Away from the objects and their shadows the floor is lit uniformly, ``albedo / pi * E * cos(theta)``
    (no fall-off with distance); that is checked on raydiff's image alone first, so that a difference in
    convention (the sign of ``direction``, a missing ``1 / pi`` or ``cos``) is named before the comparison.
    """
    scene = scenes.directional_parity_scene(96, 72, SPP)
    (sun,) = scene.lights
    assert isinstance(sun, DirectionalLight)
    blockers = [(o.center, o.radius) for o in scene.objects if isinstance(o, Sphere)] + [_cube_bounds(scene, "box")]
    ours = raydiff.render(scene, spp=SPP, seed=0)
    per_light = _mitsuba_per_light(scene)

    floor = scene.object("floor")
    cos_theta = -float(np.dot(sun.direction, (0.0, 1.0, 0.0)))
    expected = np.asarray(floor.albedo) / np.pi * np.asarray(sun.irradiance) * cos_theta
    # Open floor that Mitsuba lights fully in every subpixel sample (not on a shadow edge).
    lit = scenes.open_floor_pixels(scene, blockers) & np.all(np.isclose(per_light[0], expected, rtol=1e-3), axis=-1)
    assert lit.sum() >= 1000, f"only {lit.sum()} fully lit open floor pixels"
    ratio = np.median(ours[lit] / expected, axis=0)
    np.testing.assert_allclose(
        ratio, 1.0, rtol=1e-3,
        err_msg=f"raydiff's sunlit floor / (albedo / pi * E * cos), per channel: {ratio} (cos = {cos_theta:.4f})",
    )
    _check(scene, ours, per_light, blockers, min_shadow_pixels=100)


def test_two_cameras_match_mitsuba_view_by_view(mitsuba, cpu):
    """Two spheres on a floor under a point light and a sun, seen by two cameras: ``render_views`` gives
    one image per camera, in order, each matching Mitsuba's render of that camera; ``render(view=1)``
    renders the second camera alone."""
    scene = scenes.two_view_scene(96, 72, SPP)
    assert len(scene.cameras) == 2
    blockers = [(o.center, o.radius) for o in scene.objects if isinstance(o, Sphere)]
    views = raydiff.render_views(scene, spp=SPP, seed=0)
    assert len(views) == len(scene.cameras)
    per_view = [_mitsuba_per_light(scene, view=i) for i in range(len(scene.cameras))]
    for i, (ours, per_light) in enumerate(zip(views, per_view)):
        _check(scene, np.asarray(ours), per_light, blockers, min_shadow_pixels=100, view=i)
    # The views really differ: each is far from the other camera's reference.
    assert relative_rmse(np.asarray(views[0]), sum(per_view[1])) > 10 * MAX_RELATIVE_RMSE
    # One view on its own.
    second = raydiff.render(scene, spp=SPP, seed=0, view=1)
    _check(scene, second, per_view[1], blockers, min_shadow_pixels=100, view=1)


# --------------------------------------------------------------------------------------------------------
# Glossy surfaces (issue 9)
# --------------------------------------------------------------------------------------------------------

#: The roughness values compared: a tight highlight, a medium and a broad one.
GLOSSY_ALPHAS = (0.1, 0.25, 0.5)


@pytest.fixture(scope="module")
def glossy_integrator(cpu_backend):
    """One device scene and integrator for :func:`scenes.glossy_parity_scene`, compiled once: each roughness
    is written into its pool (and gradient-free mirror) before rendering."""
    from raydiff.device.scene import DeviceScene, layout_scene
    from raydiff.kernels.integrator import Integrator

    dev = DeviceScene(scenes.glossy_parity_scene(GLOSSY_ALPHAS[0]))
    integrator = Integrator(dev, spp=SPP)

    def render(scene) -> np.ndarray:
        dev.set_pool(np.array(layout_scene(scene).values, dtype=np.float32))
        integrator.forward(0)
        return integrator.to_numpy()

    return render


@pytest.mark.parametrize("alpha", GLOSSY_ALPHAS)
def test_rough_conductors_match_mitsuba(mitsuba, glossy_integrator, alpha):
    """A gold and a perfect-reflector sphere and a copper cube mesh (``roughconductor``, GGX) on a diffuse
    floor under two point lights: every object shows a highlight, and the floor a hard shadow."""
    scene = scenes.glossy_parity_scene(alpha)
    ours = glossy_integrator(scene)
    per_light = _mitsuba_per_light(scene, sampler="stratified")
    box = scene.object("box")
    blockers = [(o.center, o.radius) for o in scene.objects if isinstance(o, Sphere)] + [_cube_bounds(scene, "box")]
    # The highlights are there: each object's brightest pixel is far above the diffuse floor's.
    theirs = sum(per_light)
    assert theirs.max() > 10 * np.median(theirs), "no highlight in Mitsuba's render"
    assert box.material is not None and box.material.alpha == alpha
    _check(scene, ours, per_light, blockers, min_shadow_pixels=100)


# --------------------------------------------------------------------------------------------------------
# Mirrors (issue 9): smooth conductors, max_depth 3
# --------------------------------------------------------------------------------------------------------


def test_mirrors_match_mitsuba(mitsuba, cpu):
    """A diffuse sphere over a gold mirror floor next to a chrome mirror sphere, under a point light and a
    sun, at ``max_depth`` 3, against Mitsuba's ``path`` integrator at max_depth 3 (:mod:`mitsuba_oracle`:
    it samples no emitter at a mirror's delta BSDF, so both see lights only at the reflected ray's hit;
    the one diffuse surface is convex, so Mitsuba's diffuse bounces add nothing). Mitsuba's ``direct``
    integrator would not do: it never follows the mirror's reflected ray. The reflections carry a sizeable
    share of the image, which the same scene at max_depth 2 (mirrors black) lacks (in Mitsuba's renders;
    raydiff's matches them)."""
    scene = scenes.mirror_parity_scene(96, 72, SPP)
    ours = raydiff.render(scene, spp=SPP, seed=0)
    theirs = sum(_mitsuba_per_light(scene, sampler="stratified"))
    # Mitsuba's max_depth 2 (no compile, where raydiff's would build and compile a second integrator)
    direct = sum(_mitsuba_per_light(replace(scene, max_depth=2), sampler="stratified", spp=16))
    share = float(np.abs(theirs - direct).sum() / theirs.sum())
    assert share > 0.1, f"the reflections carry only {share:.1%} of the image"
    rmse = relative_rmse(ours, theirs)
    assert rmse <= MAX_RELATIVE_RMSE, f"relative RMSE vs Mitsuba 3 = {rmse:.4f} (limit {MAX_RELATIVE_RMSE})"
    print(f"mirrors: relative RMSE vs Mitsuba 3: {rmse:.4%} (reflections: {share:.1%} of the image)")


# --------------------------------------------------------------------------------------------------------
# Rough plastics (issue 9): Mitsuba's roughplastic, GGX
# --------------------------------------------------------------------------------------------------------

#: The rough plastics' roughness values compared: a tight highlight and a broad one.
PLASTIC_ALPHAS = (0.1, 0.4)


@pytest.fixture(scope="module")
def plastic_integrator(cpu_backend):
    """One device scene and integrator for :func:`scenes.plastic_parity_scene`, compiled once: each
    roughness is written into its pool and its rough plastics' tables before rendering."""
    from raydiff.device.scene import DeviceScene, layout_scene
    from raydiff.kernels.integrator import Integrator

    dev = DeviceScene(scenes.plastic_parity_scene(PLASTIC_ALPHAS[0]))
    integrator = Integrator(dev, spp=SPP)

    def render(scene) -> np.ndarray:
        dev.set_pool(np.array(layout_scene(scene).values, dtype=np.float32))
        dev.plastic.write(scene)
        integrator.forward(0)
        return integrator.to_numpy()

    return render


@pytest.mark.parametrize("alpha", PLASTIC_ALPHAS)
def test_rough_plastics_match_mitsuba(mitsuba, plastic_integrator, alpha):
    """A red and a blue plastic sphere and a green plastic cube mesh (``roughplastic``, GGX; the blue one
    with a denser coating) on a diffuse floor under two point lights: every object shows a highlight over
    its diffuse colour, the floor a hard shadow."""
    scene = scenes.plastic_parity_scene(alpha)
    ours = plastic_integrator(scene)
    per_light = _mitsuba_per_light(scene, sampler="stratified")
    theirs = sum(per_light)
    assert theirs.max() > 10 * np.median(theirs), "no highlight in Mitsuba's render"
    assert scene.object("box").material.alpha == alpha and scene.object("box").material.type == "roughplastic"
    blockers = [(o.center, o.radius) for o in scene.objects if isinstance(o, Sphere)] + [_cube_bounds(scene, "box")]
    _check(scene, ours, per_light, blockers, min_shadow_pixels=100)


# --------------------------------------------------------------------------------------------------------
# Smooth shading (issue 9): OBJ normals interpolated, as Mitsuba shades an OBJ with normals
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mitsuba_flat_meshes(mitsuba) -> list[np.ndarray]:
    """Mitsuba's render (per light) of the flat-shaded mesh scene, once: the flat case's reference, and
    what the smooth case must differ from."""
    return _mitsuba_per_light(scenes.smooth_parity_scene(False), sampler="stratified")


@pytest.mark.parametrize("smooth", [True, False], ids=["smooth", "flat"])
def test_smooth_shaded_meshes_match_mitsuba(mitsuba, cpu, mitsuba_flat_meshes, smooth):
    """A diffuse and a copper low-poly sphere mesh (60 triangles each) on a floor under a point light,
    shaded with their OBJ normals interpolated (Mitsuba's ``obj`` with the same normals) or, without
    them, flat (Mitsuba's ``face_normals``). The highlights vary within pixels: Mitsuba's stratified
    sampler, as for the glossy scene."""
    scene = scenes.smooth_parity_scene(smooth)
    ours = raydiff.render(scene, spp=SPP, seed=0)
    per_light = _mitsuba_per_light(scene, sampler="stratified") if smooth else mitsuba_flat_meshes
    blockers = [(o.translate, max(o.scale)) for o in scene.objects if o.type == "mesh"]
    rmse = _check(scene, ours, per_light, blockers, min_shadow_pixels=100)
    if smooth:  # the comparison tells smooth from flat shading
        flat = sum(mitsuba_flat_meshes)
        apart = relative_rmse(ours, flat)
        assert apart > 2 * MAX_RELATIVE_RMSE, f"smooth and flat shading differ by only {apart:.4f}"
        print(f"smooth shading against Mitsuba's flat shading: {apart:.4%}")
