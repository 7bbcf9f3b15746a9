"""Tests for raydiff.description: loading, validating and dumping scene files."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from raydiff.scene.description import dump_scene, load_scene, load_scene_string
from raydiff.errors import SceneError
from raydiff.scene.model import (Camera, DirectionalLight, Film, FreeParameter, Mesh, PointLight, Quad, Rotation,
                                 RoughConductor, RoughPlastic, Sphere, material_type)

CUBE = """\
# unit cube, quads
v -0.5 -0.5 -0.5
v 0.5 -0.5 -0.5
v 0.5 0.5 -0.5
v -0.5 0.5 -0.5
v -0.5 -0.5 0.5
v 0.5 -0.5 0.5
v 0.5 0.5 0.5
v -0.5 0.5 0.5
f 1 4 3 2
f 5 6 7 8
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
"""

# Line numbers matter: the table of bad inputs below refers to them.
FULL = """\
camera:
  position: [0, 1.6, 4.2]
  look_at: [0, 0.3, 0]
  up: [0, 1, 0]
  fov: 40
film: {width: 200, height: 150, spp: 4}
objects:
  - name: floor
    type: quad
    origin: [-4, 0, 4]
    edge1: [8, 0, 0]
    edge2: [0, 0, -8]
    albedo: [0.75, 0.75, 0.75]
  - {name: red, type: sphere, center: [-0.9, 0.45, 0.2], radius: 0.45, albedo: [0.8, 0.15, 0.1]}
  - name: box
    type: mesh
    file: cube.obj
    scale: 0.9
    rotate: {axis: [0, 1, 0], angle: 30}
    translate: [0, 0, 0]
lights:
  - name: key
    type: point
    position: [1.0, 1.5, -0.5]
    intensity: [12, 12, 12]
optimize:
  lights.key.position: {lr: 0.05}
  lights.key.intensity: {}
"""

MINIMAL = """\
camera: {position: [0, 0, 5], look_at: [0, 0, 0]}
film: {width: 8, height: 6}
objects:
  - {type: sphere, center: [0, 0, 0], radius: 1}
lights:
  - {type: point, position: [0, 5, 0], intensity: 10}
"""


# FULL seen by two cameras: its camera section (lines 1 to 5) replaced by these 10 lines, so that the
# lines below move down by 5.
CAMERAS = """\
cameras:
  - name: front
    position: [0, 1.6, 4.2]
    look_at: [0, 0.3, 0]
    weight: 2
  - position: [4, 1.6, 0]
    look_at: [0, 0.3, 0]
    up: [0, 1, 0]
    fov: 60
    weight: 0.5
"""

# A directional light after the key light (lines 26 and 27; optimize moves to line 28).
SUN = "  - name: sun\n    type: directional\n    direction: [0, -2, 0]\n    irradiance: [3, 2, 1]\n"


def scene_dir(tmp_path, text: str, name: str = "scene.yaml") -> str:
    """Write ``text`` and a cube.obj into tmp_path; return the scene file's path."""
    (tmp_path / "cube.obj").write_text(CUBE)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def edit(old: str, new: str, text: str = FULL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def section(name: str, replacement: str, text: str = FULL) -> str:
    """``text`` with the whole top-level section ``name`` (its line and the indented lines below) replaced."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return "".join(lines[:start]) + replacement + "".join(lines[end:])


VIEWS = section("camera", CAMERAS)
NO_OPTIMIZE = FULL[: FULL.index("optimize:")]
SUNNY = edit("optimize:\n", SUN + "optimize:\n")


# (scene text, key in the error, message substring, line or None)
BAD = {
    # the file as a whole
    "empty": ("", None, "empty document", None),
    "only a comment": ("# nothing\n", None, "empty document", None),
    "top level list": ("- 1\n- 2\n", None, "expected a scene: a mapping", 1),
    "top level scalar": ("hello\n", None, "expected a scene: a mapping", 1),
    "malformed flow": (edit("film: {width: 200, height: 150, spp: 4}", "film: {width: 200"), None, "malformed YAML", 7),
    "malformed indent": (edit("  look_at: [0, 0.3, 0]", "   look_at: [0, 0.3, 0]"), None, "malformed YAML", 3),
    "two documents": (FULL + "---\na: 1\n", None, "single document", 29),
    "duplicate key": (
        edit("  fov: 40", "  fov: 40\n  fov: 50"),
        "camera.fov", "duplicate key 'fov' (first given on line 5)", 6),
    "duplicate top key": (FULL + "film: {width: 1, height: 1}\n", "film", "duplicate key 'film'", 29),
    "unknown top key": (FULL + "camra: 1\n", "camra", "unknown key 'camra' (did you mean 'camera'?)", 29),
    "unknown key no hint": (FULL + "zzzzz: 1\n", "zzzzz", "valid keys: camera, cameras, film, max_depth, objects, lights, optimize", 29),
    "non-text key": (FULL + "1: 2\n", None, "expected text keys, got 1", 29),
    "custom tag": (edit("fov: 40", "fov: !!python/name:os.system"), "camera.fov", "unsupported YAML tag", 5),
    "bad int tag": (edit("fov: 40", "fov: !!int forty"), "camera.fov", "cannot read 'forty' as !!int", 5),
    "set tag": (edit("fov: 40", "fov: !!set {a}"), "camera.fov", "unsupported YAML tag '!!set'", 5),
    "recursive alias": (FULL + "x: &a [*a]\n", "x[0]", "recursive YAML alias", 29),
    "merge key": (edit("  fov: 40", "  <<: {fov: 40}"), "camera", "merge keys", 5),
    # camera
    "missing camera": (FULL.replace("camera:", "cam:", 1), "cam", "did you mean 'camera'", 1),
    "no camera at all": (section("camera", ""), "camera", "missing required key 'camera' (or 'cameras'", 1),
    "camera not a mapping": (section("camera", "camera: [1, 2]\n"), "camera", "expected a mapping, got [1, 2]", 1),
    "typo in camera": (
        edit("  position: [0, 1.6", "  positon: [0, 1.6"),
        "camera.positon", "unknown key 'positon' (did you mean 'position'?)", 2),
    "missing look_at": (edit("  look_at: [0, 0.3, 0]\n", ""), "camera.look_at", "missing required key 'look_at'", 1),
    "position text": (
        edit("position: [0, 1.6, 4.2]", "position: abc"),
        "camera.position", "expected 3 numbers, got 'abc'", 2),
    "position short": (
        edit("position: [0, 1.6, 4.2]", "position: [0, 1.6]"),
        "camera.position", "expected 3 numbers, got [0, 1.6]", 2),
    "position long": (
        edit("position: [0, 1.6, 4.2]", "position: [0, 1.6, 4.2, 1]"),
        "camera.position", "expected 3 numbers", 2),
    "position bool": (
        edit("position: [0, 1.6, 4.2]", "position: [0, true, 4.2]"),
        "camera.position", "expected 3 numbers, got [0, true, 4.2]", 2),
    "position nan": (edit("position: [0, 1.6, 4.2]", "position: [0, .nan, 4.2]"), "camera.position", "finite", 2),
    "position null": (
        edit("position: [0, 1.6, 4.2]", "position:"),
        "camera.position", "expected 3 numbers, got null", 2),
    "position string numbers": (
        edit("position: [0, 1.6, 4.2]", "position: ['0', '1', '2']"),
        "camera.position", "expected 3 numbers", 2),
    "look_at equals position": (
        edit("look_at: [0, 0.3, 0]", "look_at: [0, 1.6, 4.2]"),
        "camera.look_at", "differ from position", 3),
    "up zero": (edit("up: [0, 1, 0]", "up: [0, 0, 0]"), "camera.up", "nonzero", 4),
    "up parallel": (edit("up: [0, 1, 0]", "up: [0, 2.6, 8.4]"), "camera.up", "not parallel to look_at - position", 4),
    "fov too big": (edit("fov: 40", "fov: 190"), "camera.fov", "between 0 and 180 degrees", 5),
    "fov zero": (edit("fov: 40", "fov: 0"), "camera.fov", "between 0 and 180 degrees", 5),
    "fov bool": (edit("fov: 40", "fov: true"), "camera.fov", "expected a number, got true", 5),
    "fov inf": (edit("fov: 40", "fov: .inf"), "camera.fov", "finite", 5),
    "fov huge int": (edit("fov: 40", "fov: " + "9" * 400), "camera.fov", "finite", 5),
    "fov text": (edit("fov: 40", "fov: 1e3"), "camera.fov", "expected a number, got '1e3'", 5),
    "camera with a weight": (edit("  fov: 40", "  fov: 40\n  weight: 2"), "camera.weight", "a single camera has no name or weight", 6),
    "camera with a name": (edit("  fov: 40", "  fov: 40\n  name: main"), "camera.name", "list the views under 'cameras:'", 6),
    # cameras
    "camera and cameras": (edit("film:", CAMERAS + "film:"), "cameras", "give either 'camera' (one view) or 'cameras'", 6),
    "cameras empty": (section("camera", "cameras: []\n"), "cameras", "expected at least one camera, got an empty list", 1),
    "cameras null": (section("camera", "cameras:\n"), "cameras", "expected a list of cameras, got null", 1),
    "cameras mapping": (
        section("camera", "cameras: {front: {position: [0, 1, 4], look_at: [0, 0, 0]}}\n"),
        "cameras", "expected a list of cameras, got a mapping", 1),
    "cameras entry not a mapping": (section("camera", "cameras: [5]\n"), "cameras[0]", "expected a mapping, got 5", 1),
    "cameras too many": (
        section("camera", "cameras:\n" + "  - {position: [0, 1, 4], look_at: [0, 0, 0]}\n" * 65),
        "cameras", "expected at most 64 cameras, got 65", 1),
    "cameras duplicate name": (
        edit("  - position: [4, 1.6, 0]", "  - name: front\n    position: [4, 1.6, 0]", VIEWS),
        "cameras[1].name", "duplicate camera name 'front' (also cameras[0])", 6),
    "cameras default name collides": (
        edit("name: front", "name: camera1", VIEWS), "cameras[1].name", "duplicate camera name 'camera1'", 6),
    "cameras weight zero": (edit("weight: 2", "weight: 0", VIEWS), "cameras[0].weight", "expected a positive weight, got 0", 5),
    "cameras weight negative": (edit("weight: 0.5", "weight: -0.5", VIEWS), "cameras[1].weight", "positive weight, got -0.5", 10),
    "cameras weight text": (edit("weight: 2", "weight: heavy", VIEWS), "cameras[0].weight", "expected a number, got 'heavy'", 5),
    "cameras weight inf": (edit("weight: 2", "weight: .inf", VIEWS), "cameras[0].weight", "finite", 5),
    "cameras unknown key": (edit("weight: 2", "wieght: 2", VIEWS), "cameras[0].wieght", "did you mean 'weight'", 5),
    "cameras name with dot": (edit("name: front", "name: fr.ont", VIEWS), "cameras[0].name", "without dots", 2),
    "cameras fov": (edit("fov: 60", "fov: 180", VIEWS), "cameras[1].fov", "between 0 and 180 degrees", 9),
    "cameras look_at at position": (
        edit("look_at: [0, 0.3, 0]\n    up", "look_at: [4, 1.6, 0]\n    up", VIEWS),
        "cameras[1].look_at", "differ from position", 7),
    # film
    "missing film": (edit("film: {width: 200, height: 150, spp: 4}\n", ""), "film", "missing required key 'film'", 1),
    "film float width": (edit("width: 200", "width: 200.0"), "film.width", "expected a positive integer, got 200.0", 6),
    "film zero height": (edit("height: 150", "height: 0"), "film.height", "expected a positive integer, got 0", 6),
    "film huge": (edit("width: 200", "width: 20000"), "film.width", "up to 16384", 6),
    "film spp negative": (edit("spp: 4", "spp: -1"), "film.spp", "positive integer", 6),
    "film spp bool": (edit("spp: 4", "spp: true"), "film.spp", "positive integer, got true", 6),
    "film unknown key": (edit("spp: 4", "samples: 4"), "film.samples", "unknown key 'samples'", 6),
    # objects
    "objects empty": (section("objects", "objects: []\n"), "objects", "at least one object", 7),
    "objects mapping": (
        section("objects", "objects: {a: 1}\n"),
        "objects", "expected a list of objects, got a mapping", 7),
    "object not a mapping": (section("objects", "objects:\n  - 5\n"), "objects[0]", "expected a mapping, got 5", 8),
    "object type typo": (
        edit("type: sphere", "type: sphree"),
        "objects[1].type",
        "unknown object type 'sphree' (did you mean 'sphere'?); expected one of quad, sphere, mesh", 14),
    "object type missing": (edit("    type: quad\n", ""), "objects[0].type", "missing required key 'type'", 8),
    "object type number": (
        edit("type: quad", "type: 3"),
        "objects[0].type", "expected object type (one of quad, sphere, mesh), got 3", 9),
    "sphere with quad key": (
        edit("radius: 0.45,", "radius: 0.45, edge1: [1, 0, 0],"),
        "objects[1].edge1", "unknown key 'edge1'", 14),
    "sphere radius zero": (
        edit("radius: 0.45", "radius: 0"),
        "objects[1].radius", "expected a positive radius, got 0", 14),
    "sphere radius negative": (edit("radius: 0.45", "radius: -1"), "objects[1].radius", "positive radius", 14),
    "sphere missing center": (
        edit("center: [-0.9, 0.45, 0.2], ", ""),
        "objects[1].center", "missing required key 'center'", 14),
    "albedo above one": (
        edit("albedo: [0.8, 0.15, 0.1]", "albedo: [1.5, 0.15, 0.1]"),
        "objects[1].albedo", "in [0, 1]", 14),
    "albedo grey negative": (edit("albedo: [0.8, 0.15, 0.1]", "albedo: -0.1"), "objects[1].albedo", "in [0, 1]", 14),
    "albedo short": (
        edit("albedo: [0.8, 0.15, 0.1]", "albedo: [0.8, 0.15]"),
        "objects[1].albedo", "expected 3 numbers", 14),
    "albedo text": (
        edit("albedo: [0.8, 0.15, 0.1]", "albedo: red"),
        "objects[1].albedo", "expected a number or 3 numbers, got 'red'", 14),
    "duplicate object name": (edit("name: red", "name: floor"), "objects[1].name", "duplicate object name 'floor'", 14),
    "default name collides": (  # the unnamed sphere at index 2 is called sphere2 by default
        edit("  - name: box", "  - {type: sphere, center: [0, 0, 0], radius: 1}\n  - name: box",
             edit("name: red", "name: sphere2")),
        "objects[2].name", "duplicate object name 'sphere2' (also objects[1])", 15),
    "name with dot": (edit("name: red", "name: r.ed"), "objects[1].name", "without dots", 14),
    "name number": (edit("name: red", "name: 7"), "objects[1].name", "expected a name", 14),
    "quad edge zero": (edit("edge1: [8, 0, 0]", "edge1: [0, 0, 0]"), "objects[0].edge1", "nonzero", 11),
    "quad edges parallel": (
        edit("edge2: [0, 0, -8]", "edge2: [-2, 0, 0]"),
        "objects[0].edge2", "not parallel to edge1", 12),
    "quad missing origin": (
        edit("    origin: [-4, 0, 4]\n", ""),
        "objects[0].origin", "missing required key 'origin'", 8),
    "mesh file missing": (
        edit("file: cube.obj", "file: nothere.obj"),
        "objects[2].file", "cannot read mesh file 'nothere.obj': no such file", 17),
    "mesh file not text": (
        edit("file: cube.obj", "file: [cube.obj]"),
        "objects[2].file", "expected non-empty text", 17),
    "mesh file is a directory": (edit("file: cube.obj", "file: ."), "objects[2].file", "is a folder; expected a mesh file", 17),
    "mesh without file": (edit("    file: cube.obj\n", ""), "objects[2].file", "missing required key 'file'", 15),
    "mesh scale zero": (edit("scale: 0.9", "scale: 0"), "objects[2].scale", "positive number or 3 nonzero numbers", 18),
    "mesh scale component zero": (edit("scale: 0.9", "scale: [1, 0, 1]"), "objects[2].scale", "3 nonzero numbers", 18),
    "mesh scale text": (edit("scale: 0.9", "scale: big"), "objects[2].scale", "got 'big'", 18),
    "mesh rotate axis zero": (edit("axis: [0, 1, 0]", "axis: [0, 0, 0]"), "objects[2].rotate.axis", "nonzero", 19),
    "mesh rotate typo": (
        edit("axis: [0, 1, 0]", "axsi: [0, 1, 0]"),
        "objects[2].rotate.axsi", "did you mean 'axis'", 19),
    "mesh rotate not mapping": (
        edit("rotate: {axis: [0, 1, 0], angle: 30}", "rotate: 30"),
        "objects[2].rotate", "expected a mapping {axis", 19),
    "mesh angle text": (
        edit("angle: 30", "angle: thirty"),
        "objects[2].rotate.angle", "expected a number, got 'thirty'", 19),
    "mesh translate short": (
        edit("translate: [0, 0, 0]", "translate: [0, 0]"),
        "objects[2].translate", "expected 3 numbers", 20),
    # lights
    "lights empty": (section("lights", "lights: []\n"), "lights", "at least one light", 21),
    "lights missing": (FULL.replace("lights:", "lihgts:"), "lihgts", "did you mean 'lights'", 21),
    "light type unknown": (
        edit("type: point", "type: area"),
        "lights[0].type", "unknown light type 'area'; expected one of point, directional", 23),
    "lights too many": (
        edit("optimize:", "  - {type: point, position: [0, 1, 0], intensity: 1}\n" * 31 + "optimize:"),
        "lights", "expected at most 31 lights, got 32", 21),
    "point light with a direction": (
        edit("    intensity: [12, 12, 12]\n", "    intensity: [12, 12, 12]\n    direction: [0, -1, 0]\n"),
        "lights[0].direction", "unknown key 'direction'; valid keys for a point light: name, type, position, intensity", 26),
    # directional lights
    "directional without direction": (
        edit("    direction: [0, -2, 0]\n", "", SUNNY), "lights[1].direction", "missing required key 'direction'", 26),
    "directional without irradiance": (
        edit("    irradiance: [3, 2, 1]\n", "", SUNNY), "lights[1].irradiance", "missing required key 'irradiance'", 26),
    "directional zero direction": (
        edit("direction: [0, -2, 0]", "direction: [0, 0, 0]", SUNNY), "lights[1].direction", "expected a nonzero vector", 28),
    "directional direction text": (
        edit("direction: [0, -2, 0]", "direction: down", SUNNY), "lights[1].direction", "expected 3 numbers, got 'down'", 28),
    "directional negative irradiance": (
        edit("irradiance: [3, 2, 1]", "irradiance: -3", SUNNY),
        "lights[1].irradiance", "expected irradiance values >= 0, got -3", 29),
    "directional irradiance short": (
        edit("irradiance: [3, 2, 1]", "irradiance: [3, 2]", SUNNY), "lights[1].irradiance", "expected 3 numbers", 29),
    "directional with a position": (
        edit("irradiance: [3, 2, 1]", "irradiance: [3, 2, 1]\n    position: [0, 5, 0]", SUNNY),
        "lights[1].position", "unknown key 'position'; valid keys for a directional light", 30),
    "directional with an intensity": (
        edit("irradiance: [3, 2, 1]", "intensity: [3, 2, 1]", SUNNY),
        "lights[1].intensity", "valid keys for a directional light: name, type, direction, irradiance", 29),
    "directional name collides": (
        edit("name: sun", "name: key", SUNNY), "lights[1].name", "duplicate light name 'key' (also lights[0])", 26),
    "light type typo": (edit("type: point", "type: pont"), "lights[0].type", "did you mean 'point'", 23),
    "light intensity negative": (
        edit("intensity: [12, 12, 12]", "intensity: [12, -1, 12]"),
        "lights[0].intensity", "expected intensities >= 0", 25),
    "light intensity missing": (
        edit("    intensity: [12, 12, 12]\n", ""),
        "lights[0].intensity", "missing required key 'intensity'", 22),
    "light position inf": (
        edit("position: [1.0, 1.5, -0.5]", "position: [1.0, -.inf, -0.5]"),
        "lights[0].position", "finite", 24),
    "light unknown key": (
        edit("    intensity: [12, 12, 12]\n", "    intensity: [12, 12, 12]\n    colour: 1\n"),
        "lights[0].colour", "unknown key 'colour'", 26),
    "duplicate light name": (
        edit("optimize:", "  - {name: key, type: point, position: [0, 0, 0], intensity: 1}\noptimize:"),
        "lights[1].name", "duplicate light name 'key' (also lights[0])", 26),
    # optimize
    "optimize typo in name": (
        edit("lights.key.position: {lr", "lights.kye.position: {lr"),
        "optimize.lights.kye.position", "no light named 'kye' (did you mean 'key'?)", 27),
    "optimize field of another type": (
        FULL + "  objects.red.edge1: {}\n",
        "optimize.objects.red.edge1", "'edge1' of a sphere cannot be optimised; free fields: albedo, center, radius", 29),
    "optimize camera up": (
        FULL + "  camera.up: {}\n",
        "optimize.camera.up", "'up' of a camera cannot be optimised; free fields: position, look_at, fov", 29),
    "optimize bad path": (
        FULL + "  sky.sun.position: {}\n",
        "optimize.sky.sun.position", "expected a path 'lights.<name>.<field>'", 29),
    "optimize cameras path with one camera": (
        FULL + "  cameras.camera.fov: {}\n",
        "optimize.cameras.camera.fov", "this scene has one camera: write 'camera.fov'", 29),
    "optimize camera path with several": (
        VIEWS + "  camera.fov: {}\n",
        "optimize.camera.fov", "this scene lists several cameras (front, camera1): name one", 34),
    "optimize unknown camera": (
        VIEWS + "  cameras.frnt.position: {}\n",
        "optimize.cameras.frnt.position", "no camera named 'frnt' (did you mean 'front'?)", 34),
    "optimize directional position": (
        SUNNY + "  lights.sun.position: {}\n",
        "optimize.lights.sun.position", "free fields: direction, irradiance", 33),
    "optimize nested field on a quad": (
        FULL + "  objects.floor.rotate.angle: {}\n",
        "optimize.objects.floor.rotate.angle", "'rotate.angle' of a quad cannot be optimised", 29),
    "optimize fov bound outside": (
        FULL + "  camera.fov: {max: 0}\n",
        "optimize.camera.fov", "min (0.1) is above max (0)", 29),
    "optimize lr text": (
        edit("{lr: 0.05}", "{lr: fast}"),
        "optimize.lights.key.position.lr", "expected a number, got 'fast'", 27),
    "optimize lr zero": (
        edit("{lr: 0.05}", "{lr: 0}"),
        "optimize.lights.key.position", "lr must be a positive number", 27),
    "optimize min above max": (
        edit("{lr: 0.05}", "{min: 2, max: 1}"),
        "optimize.lights.key.position", "min (2) is above max (1)", 27),
    "optimize unknown option": (
        edit("{lr: 0.05}", "{rate: 0.05}"),
        "optimize.lights.key.position.rate", "unknown key 'rate'", 27),
    "optimize options not mapping": (
        edit("{lr: 0.05}", "0.05"),
        "optimize.lights.key.position", "expected a mapping with optional lr, min, max", 27),
    "optimize list": (
        section("optimize", "optimize: [lights.key.position]\n"),
        "optimize", "expected a mapping of dotted paths", 26),
    "optimize duplicate": (
        FULL + "  lights.key.intensity: {lr: 1}\n",
        "optimize.lights.key.intensity", "duplicate key", 29),
}


@pytest.mark.parametrize(("text", "key", "message", "line"), BAD.values(), ids=BAD.keys())
def test_bad_scene(tmp_path, text, key, message, line):
    path = scene_dir(tmp_path, text)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    err = info.value
    assert message in err.message
    assert err.location.file == path
    assert err.location.key == key
    assert err.location.line == line
    assert "scene.yaml" in str(err)
    if key:
        assert key in str(err)
    if line:
        assert f"scene.yaml:{line}" in str(err)
    assert "\n" not in str(err)


def test_missing_file(tmp_path):
    path = tmp_path / "nothere.yaml"
    with pytest.raises(SceneError, match="cannot read scene file: no such file") as info:
        load_scene(path)
    assert info.value.location.file == str(path)


def test_directory_is_not_a_scene(tmp_path):
    with pytest.raises(SceneError, match="cannot read scene file"):
        load_scene(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(FULL.encode() + "# caf\xe9\n".encode("latin-1"))
    with pytest.raises(SceneError, match="expected UTF-8 text, got byte 0xe9") as info:
        load_scene(path)
    assert info.value.location.line == 29


def test_control_character(tmp_path):
    with pytest.raises(SceneError, match="malformed YAML: unacceptable character") as info:
        load_scene(scene_dir(tmp_path, FULL + "x: \x07\n"))
    assert info.value.location.line == 29


def test_bad_obj_points_at_the_obj_file(tmp_path):
    path = scene_dir(tmp_path, FULL)
    (tmp_path / "cube.obj").write_text("v 0 0 0\nv 1 0 0\nf 1 2 3\n")
    with pytest.raises(SceneError, match="out of range") as info:
        load_scene(path)
    assert info.value.location.file == str(tmp_path / "cube.obj")
    assert info.value.location.line == 3


# ---------------------------------------------------------------------------------------------------------
# Inputs that used to escape as a traceback or mislead: issue 12
# ---------------------------------------------------------------------------------------------------------


def _alias_chain(links: int = 30, depth: int = 50) -> str:
    """Anchors each nesting the previous one ``depth`` lists deep: shallow as composed, deep once expanded."""
    text = "x0: &x0 " + "[" * depth + "1" + "]" * depth + "\n"
    for i in range(1, links):
        text += f"x{i}: &x{i} " + "[" * depth + f"*x{i - 1}" + "]" * depth + "\n"
    return text


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: " + "[" * 10_000 + "]" * 10_000, 1),
        ("a: " + "[" * 100_000 + "]" * 100_000, 1),
        ("a: " + "{a: " * 10_000 + "1" + "}" * 10_000, 1),
        ("".join("  " * i + "a:\n" for i in range(1000)), 65),  # 1000 levels: just under the 1 MiB file limit
        ("- " * 5000 + "x\n", 1),
        (_alias_chain(), 1),
    ],
    ids=["lists-1e4", "lists-1e5", "mappings", "block-mappings", "block-lists", "through-aliases"],
)
def test_deep_nesting_is_one_error_with_its_line(text, line):
    with pytest.raises(SceneError, match="lists and mappings nested more than 64 levels deep") as info:
        load_scene_string(text, source="deep.yaml")
    assert info.value.location.line == line
    assert "expected at most 64" in str(info.value)


def test_nesting_up_to_the_limit_is_read():
    with pytest.raises(SceneError, match="unknown key 'a'"):  # parsed: the complaint is about the key
        load_scene_string("a: " + "[" * 63 + "]" * 63)


def test_a_utf8_byte_order_mark_starts_a_scene_file(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_scene(path).camera.position == (0.0, 0.0, 5.0)


def test_a_utf16_scene_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_bytes(MINIMAL.encode("utf-16"))
    with pytest.raises(SceneError, match="got UTF-16 .*save the file as UTF-8") as info:
        load_scene(path)
    assert info.value.location.line == 1


def test_a_named_pipe_is_refused_without_waiting(tmp_path):
    path = tmp_path / "scene.yaml"
    os.mkfifo(path)
    with pytest.raises(SceneError, match="cannot read scene file: is a named pipe"):
        load_scene(path)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: (d / "cube.obj").mkdir(), "is a folder; expected a mesh file"),
        (lambda d: os.mkfifo(d / "cube.obj"), "is a named pipe (FIFO), not a file"),
        (lambda d: os.symlink("gone.obj", d / "cube.obj"), "broken symbolic link to 'gone.obj'"),
        (lambda d: (os.symlink("cube.obj", d / "loop.obj"), os.symlink("loop.obj", d / "cube.obj")), "symbolic link loop"),
    ],
    ids=["folder", "fifo", "dangling-link", "link-loop"],
)
def test_a_mesh_file_that_is_not_a_file_says_what_it_is(tmp_path, make, fragment):
    path = tmp_path / "scene.yaml"
    path.write_text(FULL)
    make(tmp_path)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert info.value.location.key == "objects[2].file" and info.value.location.line == 17
    assert f"cannot read mesh file 'cube.obj': {fragment}" in info.value.message


@pytest.mark.parametrize(("key", "shown", "named"), [("f\u200bov", "f\\u200bov", "U+200B ZERO WIDTH SPACE"),
                                                     ("fov\u00a0", "fov\\u00a0", "U+00A0 NO-BREAK SPACE")])
def test_an_unknown_key_with_an_invisible_character_shows_it(key, shown, named):
    with pytest.raises(SceneError) as info:
        load_scene_string(MINIMAL.replace("camera: {position", "camera: {fov: 40, position").replace("fov: 40", f"{key}: 40"))
    assert f"unknown key '{shown}', which holds an invisible {named} (did you mean 'fov'?)" in info.value.message


def test_a_mesh_whose_faces_all_have_no_area(tmp_path):
    path = scene_dir(tmp_path, FULL)
    (tmp_path / "cube.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 1 1 2\n")
    with pytest.raises(SceneError, match="no face of mesh file 'cube.obj' has an area") as info:
        load_scene(path)
    assert info.value.location.key == "objects[2].file"


@pytest.mark.parametrize("axis", ["[0, 1.0e-30, 0]", "[0, 1.0e+30, 0]", "[0, 2, 0]"])
def test_a_rotation_axis_of_any_length_is_made_unit(tmp_path, axis):
    scene = load_scene(scene_dir(tmp_path, edit("axis: [0, 1, 0]", f"axis: {axis}")))
    assert scene.object("box").rotate == Rotation(axis=(0.0, 1.0, 0.0), angle=30.0)


@pytest.mark.parametrize(
    ("axis", "fragment"),
    [("[0, 0, 0]", "expected a nonzero vector"), ("[.nan, 0, 1]", "not finite"), ("[0, .inf, 0]", "not finite")],
)
def test_a_rotation_axis_without_a_direction(tmp_path, axis, fragment):
    with pytest.raises(SceneError, match=fragment) as info:
        load_scene(scene_dir(tmp_path, edit("axis: [0, 1, 0]", f"axis: {axis}")))
    assert info.value.location.key == "objects[2].rotate.axis" and info.value.location.line == 19


def test_a_camera_whose_look_at_is_its_position_in_float32():
    text = MINIMAL.replace("look_at: [0, 0, 0]", "look_at: [0, 0, 5.0000000001]")
    with pytest.raises(SceneError, match="expected look_at to differ from position in float32") as info:
        load_scene_string(text)
    assert info.value.location.key == "camera.look_at"


# ---------------------------------------------------------------------------------------------------------
# Good paths
# ---------------------------------------------------------------------------------------------------------


def test_full_example(tmp_path):
    path = scene_dir(tmp_path, FULL)
    scene = load_scene(path)
    assert scene.source == path
    assert scene.camera == Camera(position=(0.0, 1.6, 4.2), look_at=(0.0, 0.3, 0.0), up=(0.0, 1.0, 0.0), fov=40.0)
    assert scene.film == Film(width=200, height=150, spp=4)
    floor, red, box = scene.objects
    assert floor == Quad("floor", (-4.0, 0.0, 4.0), (8.0, 0.0, 0.0), (0.0, 0.0, -8.0), (0.75, 0.75, 0.75))
    assert red == Sphere("red", (-0.9, 0.45, 0.2), 0.45, (0.8, 0.15, 0.1))
    assert isinstance(box, Mesh) and box.name == "box"
    assert box.file == str(tmp_path / "cube.obj") and box.file_as_written == "cube.obj"
    assert box.vertices.shape == (8, 3) and box.faces.shape == (12, 3)
    assert box.scale == (0.9, 0.9, 0.9)
    assert box.rotate == Rotation(axis=(0.0, 1.0, 0.0), angle=30.0)
    assert box.translate == (0.0, 0.0, 0.0)
    assert scene.lights == (PointLight("key", (1.0, 1.5, -0.5), (12.0, 12.0, 12.0)),)
    assert scene.optimize == (FreeParameter("lights.key.position", lr=0.05), FreeParameter("lights.key.intensity"))
    assert list(scene.document) == ["camera", "film", "objects", "lights", "optimize"]
    assert scene.document["objects"][1]["radius"] == 0.45
    for vector in (scene.camera.position, scene.lights[0].intensity, floor.edge1):
        assert all(type(x) is float for x in vector)


def test_defaults(tmp_path):
    scene = load_scene_string(MINIMAL)
    assert scene.source == "<string>"
    assert scene.camera.up == (0.0, 1.0, 0.0) and scene.camera.fov == 40.0
    assert scene.film.spp == 4
    (sphere,) = scene.objects
    assert sphere.name == "sphere0" and sphere.albedo == (0.5, 0.5, 0.5)
    assert scene.lights[0].name == "point0"
    assert scene.optimize == ()
    (tmp_path / "m.obj").write_text(CUBE)
    text = MINIMAL + "  - {type: point, position: [0, 1, 0], intensity: 1}\n"
    text = text.replace("objects:\n", "objects:\n  - {type: mesh, file: m.obj}\n")
    scene = load_scene_string(text, source="x.yaml", base_dir=str(tmp_path))
    mesh = scene.objects[0]
    assert mesh.name == "mesh0" and scene.objects[1].name == "sphere1" and scene.lights[1].name == "point1"
    assert mesh.scale == (1.0, 1.0, 1.0) and mesh.rotate == Rotation() and mesh.translate == (0.0, 0.0, 0.0)
    assert mesh.albedo == (0.5, 0.5, 0.5) and mesh.file == str(tmp_path / "m.obj")


def test_grey_shorthand_and_per_axis_scale(tmp_path):
    (tmp_path / "m.obj").write_text(CUBE)
    text = MINIMAL.replace("radius: 1}", "radius: 1, albedo: 0.3}")
    mesh = "  - {type: mesh, file: m.obj, scale: [1, -2, 3], rotate: {angle: 90}}\n"
    text = text.replace("objects:\n", "objects:\n" + mesh)
    scene = load_scene_string(text, base_dir=str(tmp_path))
    assert scene.objects[1].albedo == (0.3, 0.3, 0.3)
    assert scene.lights[0].intensity == (10.0, 10.0, 10.0)
    assert scene.objects[0].scale == (1.0, -2.0, 3.0)
    assert scene.objects[0].rotate == Rotation(axis=(0.0, 1.0, 0.0), angle=90.0)


def test_optimize_null_and_empty_options():
    assert load_scene_string(MINIMAL + "optimize:\n").optimize == ()
    text = MINIMAL + "optimize:\n  lights.point0.intensity:\n  objects.sphere0.albedo: {min: 0.1, max: 0.9}\n"
    assert load_scene_string(text).optimize == (
        FreeParameter("lights.point0.intensity"),
        FreeParameter("objects.sphere0.albedo", min=0.1, max=0.9),
    )


def test_absolute_mesh_path(tmp_path):
    (tmp_path / "m.obj").write_text(CUBE)
    text = MINIMAL.replace("objects:\n", f"objects:\n  - {{type: mesh, file: '{tmp_path / 'm.obj'}'}}\n")
    assert load_scene_string(text, base_dir="/nonexistent").objects[0].file == str(tmp_path / "m.obj")


def test_dump_round_trip(tmp_path):
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "cube.obj").write_text(CUBE)
    (tmp_path / "scenes").mkdir()
    source = tmp_path / "scenes" / "scene.yaml"
    source.write_text(FULL.replace("file: cube.obj", "file: ../meshes/cube.obj"))
    scene = load_scene(source)
    document_before = copy.deepcopy(scene.document)

    out = tmp_path / "runs" / "fit 1" / "fitted.yaml"
    out.parent.mkdir(parents=True)
    values = {
        "lights.key.position": np.array([0.25, 2.0, -1.0 / 3.0]),
        "lights.key.intensity": np.array([7, 8, 9], dtype=np.float32),
        "objects.red.albedo": np.array([[0.1, 0.2, 0.3]]),
    }
    dump_scene(scene, out, values)

    assert scene.document == document_before  # the scene itself is left alone
    assert sorted(os.listdir(out.parent)) == ["fitted.yaml"]  # no temporary file left behind
    again = load_scene(out)
    assert again.light("key").position == (0.25, 2.0, -1.0 / 3.0)
    assert again.light("key").intensity == (7.0, 8.0, 9.0)
    assert again.object("red").albedo == (0.1, 0.2, 0.3)
    assert again.object("box").file == str(tmp_path / "meshes" / "cube.obj")
    assert again.object("box").file_as_written == os.path.join("..", "..", "meshes", "cube.obj")
    assert again.camera == scene.camera and again.film == scene.film and again.optimize == scene.optimize
    assert list(again.document) == list(scene.document)
    assert list(again.document["objects"][2]) == list(scene.document["objects"][2])
    written = yaml.safe_load(out.read_text())
    assert written["lights"][0]["position"] == [0.25, 2.0, -1.0 / 3.0]
    assert all(type(x) is float for x in written["lights"][0]["intensity"])

    dump_scene(again, out)  # overwriting in place works too, and keeps everything
    assert load_scene(out).light("key").position == (0.25, 2.0, -1.0 / 3.0)


def test_dump_rejects_unknown_paths(tmp_path):
    scene = load_scene_string(MINIMAL)
    with pytest.raises(ValueError, match="no light named 'nope'"):
        dump_scene(scene, tmp_path / "x.yaml", {"lights.nope.position": np.zeros(3)})
    with pytest.raises(ValueError, match="expected a path"):
        dump_scene(scene, tmp_path / "x.yaml", {"sky.sun.position": np.zeros(3)})
    with pytest.raises(ValueError, match="this scene has one camera: write 'camera.fov'"):
        dump_scene(scene, tmp_path / "x.yaml", {"cameras.camera.fov": np.zeros(1)})
    with pytest.raises(ValueError, match="'edge1' is not a parameter of object 'sphere0'"):
        dump_scene(scene, tmp_path / "x.yaml", {"objects.sphere0.edge1": np.zeros(3)})


def test_cameras(tmp_path):
    scene = load_scene(scene_dir(tmp_path, VIEWS + "  cameras.camera1.fov: {}\n"))
    front, side = scene.cameras
    assert front == Camera((0.0, 1.6, 4.2), (0.0, 0.3, 0.0), name="front", weight=2.0)
    assert side == Camera((4.0, 1.6, 0.0), (0.0, 0.3, 0.0), fov=60.0, name="camera1", weight=0.5)
    assert scene.camera is front and scene.several_views
    assert list(scene.document) == ["cameras", "film", "objects", "lights", "optimize"]
    assert scene.optimize[-1] == FreeParameter("cameras.camera1.fov")
    single = load_scene(scene_dir(tmp_path, FULL))
    assert single.cameras == (single.camera,) and single.camera.name == "camera" and not single.several_views


def test_a_list_of_one_camera_is_several_views(tmp_path):
    text = section("camera", "cameras:\n  - {name: only, position: [0, 1.6, 4.2], look_at: [0, 0.3, 0]}\n")
    scene = load_scene(scene_dir(tmp_path, text + "  cameras.only.fov: {}\n"))
    assert [c.name for c in scene.cameras] == ["only"] and scene.several_views


def test_as_many_lights_and_cameras_as_allowed(tmp_path):
    lights = "".join(f"  - {{type: point, position: [0, {i}, 0], intensity: 1}}\n" for i in range(30))
    cameras = "cameras:\n" + "".join(f"  - {{position: [{i}, 1, 4], look_at: [0, 0, 0]}}\n" for i in range(64))
    scene = load_scene(scene_dir(tmp_path, section("camera", cameras, edit("optimize:", lights + "optimize:"))))
    assert len(scene.lights) == 31 and scene.lights[-1].name == "point30"
    assert len(scene.cameras) == 64 and scene.cameras[-1].name == "camera63"


def test_directional_light(tmp_path):
    scene = load_scene(scene_dir(tmp_path, SUNNY))
    assert scene.light("sun") == DirectionalLight("sun", (0.0, -1.0, 0.0), (3.0, 2.0, 1.0))
    text = MINIMAL + "  - {type: directional, direction: [3, 0, -4], irradiance: 2}\n"
    sun = load_scene_string(text).lights[1]
    assert sun.name == "directional1" and sun.type == "directional"
    assert sun.direction == pytest.approx((0.6, 0.0, -0.8)) and sun.irradiance == (2.0, 2.0, 2.0)
    assert all(type(x) is float for x in sun.direction + sun.irradiance)
    # Normalised without overflow or underflow (1e-200, not a subnormal: once Taichi has run on the CPU,
    # the process flushes subnormals to zero, and Python's float('1e-320') reads 0).
    for huge in ("[1.0e+300, 1.0e+300, 0]", "[1.0e-200, 0, -1.0e-200]"):
        direction = load_scene_string(MINIMAL + f"  - {{type: directional, direction: {huge}, irradiance: 1}}\n").lights[1].direction
        assert np.linalg.norm(direction) == pytest.approx(1.0) and np.isfinite(direction).all()


def test_dump_cameras_directional_and_nested_fields(tmp_path):
    text = VIEWS.replace("    rotate: {axis: [0, 1, 0], angle: 30}\n", "")
    text = edit("optimize:\n", SUN + "optimize:\n", text)
    scene = load_scene(scene_dir(tmp_path, text))
    assert "rotate" not in scene.document["objects"][2]
    out = tmp_path / "fitted.yaml"
    dump_scene(scene, out, {
        "cameras.camera1.fov": np.array([55.0]),
        "cameras.front.position": np.array([0.0, 2.0, 5.0]),
        "objects.box.rotate.angle": np.array([12.5]),
        "objects.red.radius": np.array([0.5]),
        "lights.sun.direction": np.array([0.0, -0.6, 0.8]),
        "lights.sun.irradiance": np.array([1.0, 1.0, 1.0]),
    })
    again = load_scene(out)
    assert again.cameras[1].fov == 55.0 and again.cameras[0].position == (0.0, 2.0, 5.0)
    assert again.cameras[0].weight == 2.0 and again.cameras[1].name == "camera1"
    assert again.object("box").rotate == Rotation(angle=12.5) and again.object("red").radius == 0.5
    assert again.light("sun") == DirectionalLight("sun", (0.0, -0.6, 0.8), (1.0, 1.0, 1.0))
    written = yaml.safe_load(out.read_text())
    assert written["objects"][2]["rotate"] == {"angle": 12.5} and written["cameras"][1]["fov"] == 55.0
    assert "camera" not in written


RED_ALBEDO = ", albedo: [0.8, 0.15, 0.1]}"  # the end of the red sphere's line in FULL
GLOSSY_RED = ", material: {type: roughconductor, alpha: 0.3, eta: [0.2, 0.4, 1.4], k: 3}}"


def test_a_rough_conductor_and_its_defaults(tmp_path):
    """``material: {type: roughconductor}`` alone is Mitsuba's default rough conductor with GGX and
    ``material: none``: alpha 0.1, specular 1, eta 0 and k 1 (a perfect reflector); one number for eta or
    k means every channel. An object without ``material`` stays diffuse."""
    plain = load_scene(scene_dir(tmp_path, edit(RED_ALBEDO, ", material: {type: roughconductor}}")))
    assert plain.object("red").material == RoughConductor(0.1, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert material_type(plain.object("red")) == "roughconductor" and material_type(plain.object("floor")) == "diffuse"
    given = load_scene(scene_dir(tmp_path, edit(RED_ALBEDO, GLOSSY_RED)))
    assert given.object("red").material == RoughConductor(0.3, (1.0, 1.0, 1.0), (0.2, 0.4, 1.4), (3.0, 3.0, 3.0))


def test_dump_writes_a_materials_fitted_values_into_its_mapping(tmp_path):
    scene = load_scene(scene_dir(tmp_path, edit(RED_ALBEDO, GLOSSY_RED, NO_OPTIMIZE)))
    out = tmp_path / "fitted.yaml"
    dump_scene(scene, out, {"objects.red.material.alpha": np.array([0.125]),
                            "objects.red.material.specular_reflectance": np.array([0.5, 0.25, 0.75])})
    again = load_scene(out).object("red").material
    assert again == RoughConductor(0.125, (0.5, 0.25, 0.75), (0.2, 0.4, 1.4), (3.0, 3.0, 3.0))
    written = next(o for o in yaml.safe_load(out.read_text())["objects"] if o["name"] == "red")
    assert written["material"]["type"] == "roughconductor" and written["material"]["alpha"] == 0.125


def test_dump_writes_a_rough_plastics_fitted_colours_into_its_mapping(tmp_path):
    plastic = ", material: {type: roughplastic, alpha: 0.2, int_ior: 1.6}}"
    scene = load_scene(scene_dir(tmp_path, edit(RED_ALBEDO, plastic, NO_OPTIMIZE)))
    out = tmp_path / "fitted.yaml"
    dump_scene(scene, out, {"objects.red.material.diffuse_reflectance": np.array([0.5, 0.25, 0.75]),
                            "objects.red.material.specular_reflectance": np.array([0.875, 0.75, 0.625])})
    again = load_scene(out).object("red").material
    assert again == RoughPlastic(0.2, (0.5, 0.25, 0.75), (0.875, 0.75, 0.625), int_ior=1.6)


def test_the_scene_format_pages_examples_load(tmp_path):
    """docs/scene-format.md: the scene at the top is FULL, and its other examples fit into it."""
    import re

    page = open(os.path.join(os.path.dirname(__file__), "..", "docs", "scene-format.md"), encoding="utf-8").read()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    assert blocks[0] == FULL
    by_section = {block.split(":")[0]: block for block in blocks[1:]}
    assert set(by_section) == {"cameras", "film", "lights", "max_depth", "objects", "optimize"}
    metal, plastic = (block for block in blocks[1:] if block.startswith("objects:"))  # by_section keeps the last
    glossy = load_scene(scene_dir(tmp_path, section("objects", metal, NO_OPTIMIZE)))
    assert glossy.object("ball").material == RoughConductor(alpha=0.18, specular_reflectance=(0.95, 0.72, 0.38))
    coated = load_scene(scene_dir(tmp_path, section("objects", plastic, NO_OPTIMIZE)))
    assert coated.object("ball").material == RoughPlastic(alpha=0.15, diffuse_reflectance=(0.7, 0.1, 0.1))
    mirrored = load_scene(scene_dir(tmp_path, section("objects", by_section["max_depth"], NO_OPTIMIZE)))
    assert mirrored.max_depth == 3 and mirrored.object("mirror").material.type == "conductor"
    views = load_scene(scene_dir(tmp_path, section("camera", by_section["cameras"])))
    assert [(c.name, c.weight) for c in views.cameras] == [("front", 2.0), ("top", 1.0)]
    assert load_scene(scene_dir(tmp_path, section("film", by_section["film"]))).film == Film(320, 240, 4)
    lit = load_scene(scene_dir(tmp_path, section("lights", by_section["lights"], NO_OPTIMIZE)))
    assert [light.type for light in lit.lights] == ["directional"]
    freed = load_scene(scene_dir(tmp_path, section("optimize", by_section["optimize"])))
    assert "camera.fov" in [entry.path for entry in freed.optimize]


def test_dump_to_missing_directory(tmp_path):
    scene = load_scene_string(MINIMAL)
    with pytest.raises(SceneError, match="cannot write scene file"):
        dump_scene(scene, tmp_path / "no" / "such" / "dir.yaml")


# ---------------------------------------------------------------------------------------------------------
# Property tests: whatever the input, a Scene or a SceneError, nothing else
# ---------------------------------------------------------------------------------------------------------

VOCABULARY = [
    "camera", "film", "objects", "lights", "optimize", "position", "look_at", "up", "fov", "width", "height",
    "spp", "name", "type", "origin", "edge1", "edge2", "albedo", "center", "radius", "file", "scale", "rotate",
    "axis", "angle", "translate", "intensity", "lr", "min", "max", "lights.key.position", "objects.a.albedo",
    "cameras", "weight", "direction", "irradiance", "camera.fov", "cameras.a.fov", "objects.a.rotate.angle",
    "objects.sphere0.radius", "lights.directional0.direction",
]
JUNK = ["", "x", "positon", "<<", "0", "a.b", "lights.point0.intensity", "objects.sphere0.albedo"]
WORDS = ["quad", "sphere", "mesh", "point", "directional", "cube.obj", "key", "a", "nope.obj", "", ".", "/"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=5),
)
keys = st.sampled_from(VOCABULARY + JUNK)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
top_keys = st.sampled_from(["camera", "cameras", "film", "objects", "lights", "optimize"] + JUNK)
documents = st.one_of(values, st.dictionaries(top_keys, values, max_size=6))


@pytest.fixture(scope="module")
def mesh_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("meshes")
    (path / "cube.obj").write_text(CUBE)
    return str(path)


def load_or_scene_error(text: str, base_dir: str) -> None:
    try:
        load_scene_string(text, source="fuzz.yaml", base_dir=base_dir)
    except SceneError as err:
        assert err.location.file == "fuzz.yaml"
        assert "\n" not in str(err)


@settings(max_examples=80, deadline=None)
@given(document=documents)
def test_random_documents_load_or_raise_scene_error(mesh_dir, document):
    load_or_scene_error(yaml.safe_dump(document, sort_keys=False), mesh_dir)


def mutate(draw, node, depth=0):
    """A copy of ``node`` with some keys dropped, replaced or added and some list items changed."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            action = draw(st.sampled_from(["keep"] * 6 + ["drop", "replace", "recurse", "recurse"]))
            if action == "keep":
                result[key] = value
            elif action == "replace":
                result[key] = draw(values)
            elif action == "recurse":
                result[key] = mutate(draw, value, depth + 1)
        if draw(st.integers(0, 9)) == 0:
            result[draw(keys)] = draw(values)
        return result
    if isinstance(node, list):
        items = [mutate(draw, item, depth + 1) if draw(st.booleans()) else item for item in node]
        return draw(st.sampled_from([items, items[:-1], items + [draw(values)]]))
    return draw(values) if draw(st.integers(0, 3)) == 0 else node


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_mutated_valid_scenes_load_or_raise_scene_error(mesh_dir, data):
    document = mutate(data.draw, yaml.safe_load(FULL))
    load_or_scene_error(yaml.safe_dump(document, sort_keys=False), mesh_dir)


@settings(max_examples=40, deadline=None)
@given(text=st.one_of(st.text(max_size=60), st.lists(st.sampled_from(FULL.splitlines()), max_size=30).map("\n".join)))
def test_random_text_loads_or_raises_scene_error(mesh_dir, text):
    load_or_scene_error(text, mesh_dir)
