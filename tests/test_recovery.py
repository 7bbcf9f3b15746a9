"""Issue 7's recoveries: every kind of scene parameter found again from pictures, with the default learning rates.

Each test runs the fit of one example scene (scenes/<name>.yaml, which starts from a wrong guess; its truth is
scenes/truth/<name>.yaml) with the default settings but fewer iterations, on a film of half the example's
width and height, against the example's own references (assets/, made by examples/make_references.py)
averaged over 2x2 pixels, and checks the goal the issue states:

| example | free | goal |
|---|---|---|
| camera_pose | a camera's position and fov, one view | 1% of the scene's size, 0.5 degree |
| two_views | a sphere's centre and radius, two named cameras | 1% of the scene's size, 1% of the radius |
| mesh_pose | a mesh's translation, rotation axis and angle | 1% of the scene's size, 1 degree of rotation |
| sun | a directional light's direction | 1 degree |

and issue 8's, where shadows and outlines are the only cue (the shading alone gives no gradient, or a
wrong one), so that the boundary terms do all the work:

| example | free | cue | goal |
|---|---|---|---|
| shadow_only | a sphere's centre | its shadow under a point light; the camera sees only the floor | 1% of the scene's size |
| sun_shadow | a directional light's direction | a flat floor and a box's shadow (the box out of view) | 1 degree |
| outline_pose | a mesh's translation, rotation axis and angle | its outline and edges, flat faces, black background | 1% of the scene's size, 1 degree |

For outline_pose the same fit without boundary terms is run too: its translation does not move.

and issue 9's glossy surfaces: glossy (a rough conductor's GGX roughness and specular colour, one view of a
sphere under a point light) and plastic (a rough plastic's diffuse and specular colours, the same view),
each within 2% (relative; a colour's largest channel).

The scene's size is :func:`raydiff.scene.parameters.scene_size` of the true scene. The fits use the default
gradient (shading and boundary terms). Issue 7's examples are built for the shading to carry most of the signal:
pools of light from point lights close to the surfaces, a big sphere close up, lit backgrounds; with the
shading alone (``boundary=False``) camera_pose, two_views and sun converge as well, mesh_pose does not.
Every start is checked to be visibly wrong (several times the goal), so the tests cannot pass by standing
still. benchmarks/recovery.py runs the same fits at the examples' full settings.

Time goes to compiling each scene's kernels (the iterations take milliseconds), so the examples keep few
lights and objects, and a test may run as many iterations as its fit needs (the camera's fov converges
last: it slides along the valley where moving closer and widening the view look alike).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest

import raydiff
from raydiff.io.images import Reference
from raydiff.run.plots import truth_values
from raydiff.scene.model import Film, Rotation
from raydiff.scene.parameters import scene_size
from raydiff.scene.placement import rotation_matrix

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The tests' film: half the examples' 160x120 in each direction, so that every pixel covers exactly 2x2
#: pixels of the examples' references (the box filter makes the mean of those four the small film's pixel).
WIDTH, HEIGHT, SPP = 80, 60, 4
FACTOR = 2


def angle_between(a, b) -> float:
    """Degrees between two vectors."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return math.degrees(math.acos(float(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))))


def rotation_error(axis, angle, true_axis, true_angle) -> float:
    """Degrees of the rotation between two rotations given as (axis, angle in degrees)."""
    r = rotation_matrix(Rotation(tuple(axis), float(angle))).T @ rotation_matrix(Rotation(tuple(true_axis), float(true_angle)))
    return math.degrees(math.acos(float(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))


def reference_paths(scene) -> list[str]:
    """The example's references, one per camera, as examples/make_references.py names them."""
    if not scene.several_views:
        return [os.path.join(ROOT, "assets", f"{scene.name}_ref.png")]
    return [os.path.join(ROOT, "assets", f"{scene.name}_{camera.name}.png") for camera in scene.cameras]


def example(name: str):
    """The example's starting scene on the tests' film, its true scene, and its references (the files in
    assets/, read as `raydiff fit` reads them, then averaged over 2x2 pixels to the tests' film)."""
    start = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    truth = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
    film = start.film
    assert (film.width, film.height) == (FACTOR * WIDTH, FACTOR * HEIGHT), "the examples' films are 160x120"
    refs = []
    for path in reference_paths(start):
        full = raydiff.read_reference(path, film.width, film.height)
        pixels = full.linear.reshape(HEIGHT, FACTOR, WIDTH, FACTOR, 3).mean(axis=(1, 3), dtype=np.float64)
        refs.append(Reference(f"{path} (2x2 mean)", pixels.astype(np.float32), full.low_dynamic_range))
    return dataclasses.replace(start, film=Film(WIDTH, HEIGHT, SPP)), truth, refs


def recover(name: str, iterations: int, boundary: bool = True, optimizer: str = "auto"):
    """Fit the example with default settings but ``iterations`` (and ``boundary``, ``optimizer``); returns
    the start, fitted and true values, keyed by path, and the true scene's size."""
    start, truth, refs = example(name)
    settings = raydiff.FitSettings(iterations=iterations, boundary=boundary, optimizer=optimizer)
    result = raydiff.fit(start, refs, settings)
    assert result.halvings == 0, "the default learning rates should never need the divergence guard"
    return result.start, result.values, truth_values(truth, list(result.values)), scene_size(truth)


def check(error_of, before, after, goal: float, what: str) -> None:
    """The start is visibly wrong (more than 3 times the goal), and the fit is within the goal."""
    start_error, error = error_of(before), error_of(after)
    assert start_error > 3 * goal, f"{what}: the example should start visibly wrong ({start_error:.3g})"
    assert error < goal, f"{what}: error {error:.3g} (goal {goal}, start {start_error:.3g})"


def distance(path: str, truth: dict, size: float):
    """The error of a place, in % of the scene's size."""
    return lambda values: 100 * float(np.linalg.norm(values[path] - truth[path])) / size


def relative(path: str, truth: dict):
    """The error of a size, in % of the true one."""
    return lambda values: 100 * abs(float(values[path][0]) / float(truth[path][0]) - 1)


def degrees(path: str, truth: dict):
    """The error of an angle (fov) in degrees, or of a direction: the angle between them."""
    if truth[path].size == 1:
        return lambda values: abs(float(values[path][0]) - float(truth[path][0]))
    return lambda values: angle_between(values[path], truth[path])


def box_rotation(truth):
    """The error of the box's rotation (its axis and angle together), in degrees."""
    def rotation(values):
        return rotation_error(values["objects.box.rotate.axis"], values["objects.box.rotate.angle"][0],
                              truth["objects.box.rotate.axis"], truth["objects.box.rotate.angle"][0])
    return rotation


@pytest.mark.slow
def test_a_cameras_position_and_fov_from_one_view(cpu):
    start, fitted, truth, size = recover("camera_pose", 200)
    check(distance("camera.position", truth, size), start, fitted, 1.0, "camera.position (% of the scene's size)")
    check(degrees("camera.fov", truth), start, fitted, 0.5, "camera.fov (degrees)")


@pytest.mark.slow
def test_a_spheres_centre_and_radius_from_two_views(cpu):
    start_scene, _, refs = example("two_views")
    assert [c.name for c in start_scene.cameras] == ["left", "right"] and len(refs) == 2
    start, fitted, truth, size = recover("two_views", 100)
    check(distance("objects.ball.center", truth, size), start, fitted, 1.0, "objects.ball.center (% of the scene's size)")
    check(relative("objects.ball.radius", truth), start, fitted, 1.0, "objects.ball.radius (% relative)")


@pytest.mark.slow
def test_a_meshs_translation_and_rotation(cpu):
    start, fitted, truth, size = recover("mesh_pose", 100)
    check(distance("objects.box.translate", truth, size), start, fitted, 1.0,
          "objects.box.translate (% of the scene's size)")
    check(box_rotation(truth), start, fitted, 1.0, "objects.box rotation (degrees)")


@pytest.mark.slow
def test_a_directional_lights_direction_from_the_shading_of_spheres(cpu):
    start, fitted, truth, _ = recover("sun", 80)
    check(degrees("lights.sun.direction", truth), start, fitted, 1.0, "lights.sun.direction (degrees)")
    assert np.linalg.norm(fitted["lights.sun.direction"]) == pytest.approx(1.0, abs=1e-5)


# =================================================================================================
# Issue 8: from shadows and outlines alone
# =================================================================================================


@pytest.mark.slow
def test_a_spheres_position_from_its_shadow_alone(cpu):
    start, fitted, truth, size = recover("shadow_only", 60)
    check(distance("objects.ball.center", truth, size), start, fitted, 1.0, "objects.ball.center (% of the scene's size)")


@pytest.mark.slow
def test_a_directional_lights_direction_from_a_floor_and_a_shadow(cpu):
    start, fitted, truth, _ = recover("sun_shadow", 60)
    check(degrees("lights.sun.direction", truth), start, fitted, 1.0, "lights.sun.direction (degrees)")


@pytest.mark.slow
def test_a_meshs_pose_from_its_outline(cpu):
    # Adam: on this half-size film Levenberg-Marquardt ends 1.1 degrees off (the goal is 1; at the
    # example's full size it reaches 0.5% in 14 iterations, benchmarks/convergence.py)
    start, fitted, truth, size = recover("outline_pose", 60, optimizer="adam")
    check(distance("objects.box.translate", truth, size), start, fitted, 1.0,
          "objects.box.translate (% of the scene's size)")
    check(box_rotation(truth), start, fitted, 1.0, "objects.box rotation (degrees)")


@pytest.mark.slow
def test_a_meshs_pose_from_its_outline_stalls_without_boundary_terms(cpu):
    """Flat, evenly lit faces: moving the box changes no pixel's shading, so the shading-only gradient of
    its translation is exactly zero and the fit (by Adam, which follows that gradient; Levenberg-Marquardt's
    differences of renders see the outline move whatever ``boundary`` says) leaves it where it started."""
    start, fitted, truth, size = recover("outline_pose", 5, boundary=False, optimizer="adam")
    error = distance("objects.box.translate", truth, size)
    assert error(fitted) == pytest.approx(error(start), abs=1e-6)


# =================================================================================================
# Issue 9: a glossy surface's roughness and colour
# =================================================================================================


@pytest.mark.slow
def test_a_rough_conductors_roughness_and_specular_colour_from_one_view(cpu):
    """scenes/glossy.yaml: a GGX sphere starting twice as rough and grey; its highlight's width gives the
    roughness and its colour the specular reflectance (Fresnel is 1: material none)."""
    start, fitted, truth, _ = recover("glossy", 150)
    alpha, colour = "objects.ball.material.alpha", "objects.ball.material.specular_reflectance"
    check(relative(alpha, truth), start, fitted, 2.0, f"{alpha} (% relative)")

    def largest_channel(values):
        return 100 * float(np.max(np.abs(values[colour] / truth[colour] - 1)))

    check(largest_channel, start, fitted, 2.0, f"{colour} (% relative, largest channel)")


@pytest.mark.slow
def test_a_rough_plastics_diffuse_and_specular_colours_from_one_view(cpu):
    """scenes/plastic.yaml: a GGX plastic sphere starting grey with a dim coating; its colour outside the
    highlight gives the diffuse reflectance, the highlight the coating's specular reflectance."""
    start, fitted, truth, _ = recover("plastic", 150)
    for path in ("objects.ball.material.diffuse_reflectance", "objects.ball.material.specular_reflectance"):
        def largest_channel(values, path=path):
            return 100 * float(np.max(np.abs(values[path] / truth[path] - 1)))

        check(largest_channel, start, fitted, 2.0, f"{path} (% relative, largest channel)")
