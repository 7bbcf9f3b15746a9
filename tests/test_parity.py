"""Parity with Mitsuba 3: the same scene rendered by raydiff and by Mitsuba's path tracer agrees.

Both render 96x72 pixels at 256 samples per pixel with a box filter. A point light is sampled exactly, so
with one light the only noise is the pixel footprint's (at silhouettes and shadow edges). With several
lights Mitsuba's path tracer picks one light per sample, whose noise would dominate the comparison, so the
Mitsuba reference is the sum of one render per light (light transport is linear in the lights), while
raydiff renders all lights at once. The measure is the relative RMSE
``sqrt(mean((a - b)^2)) / sqrt(mean(b^2))`` over all pixels and channels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import raydiff
from raydiff.scene.model import Sphere

from mitsuba_oracle import render_mitsuba
import scene_builders as scenes

pytestmark = pytest.mark.parity

SPP = 256
MAX_RELATIVE_RMSE = 0.02


def relative_rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))


def _compare(scene, blockers, min_shadow_pixels: int) -> None:
    """Render with both, check the key light's hard shadow is there, and compare."""
    ours = raydiff.render(scene, spp=SPP, seed=0)
    per_light = [render_mitsuba(replace(scene, lights=(light,)), spp=SPP) for light in scene.lights]
    theirs = sum(per_light)
    assert ours.shape == theirs.shape == (scene.film.height, scene.film.width, 3)
    # Floor pixels (clear of every object) that the first light leaves exactly black: its hard shadow.
    shadow = scenes.open_floor_pixels(scene, blockers) & (per_light[0].max(axis=-1) == 0.0)
    assert shadow.sum() >= min_shadow_pixels, f"only {shadow.sum()} floor pixels are in the hard shadow"
    if len(scene.lights) == 1:
        assert np.all(ours[shadow] == 0.0)
    rmse = relative_rmse(ours, theirs)
    assert rmse <= MAX_RELATIVE_RMSE, f"relative RMSE vs Mitsuba 3 = {rmse:.4f} (limit {MAX_RELATIVE_RMSE})"
    print(f"relative RMSE vs Mitsuba 3: {rmse:.4%} ({shadow.sum()} pixels of hard shadow)")


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
