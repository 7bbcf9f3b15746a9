"""Tests for raydiff.scene.parameters: the one table of parameter kinds, and what follows from it.

Paths, bounds, default learning rates, values back into a scene and into its YAML document, all on plain
scenes read from text (no Taichi).
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import fields, replace

import numpy as np
import pytest
import yaml

from raydiff.errors import Location, SceneError
from raydiff.scene.description import load_scene_string
from raydiff.scene.model import Camera, DirectionalLight, Mesh, PointLight, Quad, Rotation, Sphere
from raydiff.scene.parameters import (
    GROUPS,
    KINDS,
    canonical_path,
    default_bounds,
    elements,
    entries,
    find_kind,
    kinds_of,
    parse_path,
    resolve,
    resolve_all,
    scene_size,
    with_values,
    write_into_document,
)
from raydiff.scene.model import FreeParameter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "assets")  # cube.obj: the unit cube centred on the origin
SCENE_FORMAT = os.path.join(ROOT, "docs", "scene-format.md")

ONE_CAMERA = "camera: {{position: [0, {y}, {z}], look_at: [0, 0, 0], fov: 40}}\n"
TWO_CAMERAS = """\
cameras:
  - {{name: front, position: [0, {y}, {z}], look_at: [0, 0, 0], fov: 40, weight: 2}}
  - {{name: side, position: [{z}, {y}, 0], look_at: [0, 0, 0], fov: 60}}
"""
BODY = """\
film: {{width: 8, height: 6, spp: 1}}
objects:
  - {{name: floor, type: quad, origin: [-{h}, 0, {h}], edge1: [{w}, 0, 0], edge2: [0, 0, -{w}], albedo: 0.7}}
  - {{name: ball, type: sphere, center: [0, {r}, 0], radius: {r}, albedo: [0.8, 0.3, 0.2]}}
  - {{name: box, type: mesh, file: cube.obj, scale: [{r}, {r}, -{r}], translate: [{r}, {r}, 0]}}
  - {{name: spun, type: mesh, file: cube.obj, scale: {r}, rotate: {{axis: [1, 1, 0], angle: 30}}, translate: [-{u}, {u}, -{u}]}}
  - {{name: shiny, type: sphere, center: [0, {r}, -{u}], radius: {r}, material: {{type: roughconductor, alpha: 0.2, specular_reflectance: [0.9, 0.8, 0.7]}}}}
  - {{name: plate, type: quad, origin: [-{u}, 0, 0], edge1: [{u}, 0, 0], edge2: [0, {u}, 0], material: {{type: roughconductor, eta: [0.2, 0.4, 1.4], k: [3.4, 2.4, 1.8]}}}}
  - {{name: chrome, type: mesh, file: cube.obj, scale: {r}, translate: [{u}, {r}, -{u}], material: {{type: roughconductor, alpha: 0.5}}}}
  - {{name: glaze, type: sphere, center: [{u}, {r}, {u}], radius: {r}, material: {{type: roughplastic, alpha: 0.3, diffuse_reflectance: [0.2, 0.4, 0.6]}}}}
  - {{name: tile, type: quad, origin: [0, 0, {u}], edge1: [{u}, 0, 0], edge2: [0, {u}, 0], material: {{type: roughplastic, int_ior: 1.6}}}}
  - {{name: vase, type: mesh, file: cube.obj, scale: {r}, translate: [-{u}, {r}, {u}], material: {{type: roughplastic, specular_reflectance: 0.8}}}}
lights:
  - {{name: key, type: point, position: [1, {y}, 1], intensity: [12, 10, 8]}}
  - {{name: sun, type: directional, direction: [0, -2, 0], irradiance: 3}}
"""


def scene_text(size: float = 1.0, several: bool = False) -> str:
    """The test scene (every element type there is), its lengths multiplied by ``size``."""
    lengths = {"y": 2 * size, "z": 4 * size, "h": 3 * size, "w": 6 * size, "r": 0.5 * size, "u": size}
    return (TWO_CAMERAS if several else ONE_CAMERA).format(**lengths) + BODY.format(**lengths)


def load(text: str):
    return load_scene_string(text, source="scene.yaml", base_dir=ASSETS)


ONE = load(scene_text())
TWO = load(scene_text(several=True))

# One element of each type, by group: the name a path uses.
NAMES = {
    ("cameras", "perspective"): "camera",
    ("objects", "quad"): "floor",
    ("objects", "sphere"): "ball",
    ("objects", "mesh"): "spun",
    ("lights", "point"): "key",
    ("lights", "directional"): "sun",
}
#: The rough-conductor objects, for the kinds of that material.
GLOSSY_NAMES = {"quad": "plate", "sphere": "shiny", "mesh": "chrome"}
#: The rough-plastic objects, for the kinds only that material has.
PLASTIC_NAMES = {"quad": "tile", "sphere": "glaze", "mesh": "vase"}
FREE = [k for k in KINDS if k.free]


def path_of(kind, type_: str, several: bool = False) -> str:
    """The path a user writes for ``kind`` of the test scene's element of ``type_``."""
    if kind.group == "cameras":
        return f"cameras.side.{kind.field}" if several else f"camera.{kind.field}"
    if kind.materials == ("roughplastic",):
        return f"{kind.group}.{PLASTIC_NAMES[type_]}.{kind.field}"
    if kind.materials and "diffuse" not in kind.materials:
        return f"{kind.group}.{GLOSSY_NAMES[type_]}.{kind.field}"
    return f"{kind.group}.{NAMES[kind.group, type_]}.{kind.field}"


def kind_cases(several: bool = False):
    """(kind, element type, path) for every free kind and every type that has it."""
    return [pytest.param(k, t, path_of(k, t, several), id=path_of(k, t, several)) for k in FREE for t in k.types]


def element_of(scene, path: str):
    parsed = parse_path(scene, path, Location("scene.yaml", path))
    return next(e for e in elements(scene, parsed.group) if e.name == parsed.name)


def new_value(kind, start: np.ndarray) -> np.ndarray:
    """A valid value for ``kind`` that differs from ``start`` (unit length for directions)."""
    if kind.unit:
        value = np.array([0.6, 0.0, -0.8]) if not np.allclose(start, [0.6, 0.0, -0.8]) else np.array([0.0, 1.0, 0.0])
    elif kind.field in ("albedo", "material.specular_reflectance"):
        value = np.full(kind.size, 0.25)
    elif kind.field == "fov":
        value = np.array([55.0])
    else:
        value = start * 1.5 + np.where(start == 0, 0.125, 0.0)  # keeps every sign
    return value


# --------------------------------------------------------------------------------------------------------
# The table itself
# --------------------------------------------------------------------------------------------------------

ELEMENT_CLASSES = {"perspective": Camera, "quad": Quad, "sphere": Sphere, "mesh": Mesh, "point": PointLight,
                   "directional": DirectionalLight}


def test_every_kind_names_a_field_of_every_type_it_claims():
    seen = set()
    for kind in KINDS:
        assert kind.group in GROUPS
        assert kind.size in (1, 3)
        assert kind.lower < kind.upper
        assert kind.lr_scale in ("none", "scene", "value")
        if kind.free:
            assert kind.lr > 0 and kind.doc, kind
        if kind.unit:
            assert kind.size == 3
        for type_ in kind.types:
            head = kind.field.split(".")[0]
            assert head in {f.name for f in fields(ELEMENT_CLASSES[type_])}, (kind.field, type_)
            assert (kind.group, type_, kind.field) not in seen
            seen.add((kind.group, type_, kind.field))


def test_camera_up_is_in_the_pool_but_cannot_be_freed():
    up = find_kind("cameras", "perspective", "up")
    assert up is not None and not up.free


def test_entries_follow_the_table_element_by_element():
    keys = [key for key, _, _ in entries(ONE)]
    assert keys[:4] == [("cameras", "camera", f) for f in ("position", "look_at", "up", "fov")]
    assert [f for g, n, f in keys if n == "ball"] == [k.field for k in kinds_of("objects", "sphere")]
    assert [g for g, _, _ in keys] == sorted((g for g, _, _ in keys), key=GROUPS.index)
    for key, kind, value in entries(ONE):
        assert value.shape == (kind.size,) and value.dtype == np.float64
    assert [n for g, n, f in entries_keys(TWO) if g == "cameras" and f == "fov"] == ["front", "side"]


def entries_keys(scene):
    return [key for key, _, _ in entries(scene)]


def documented_row(kind) -> list[str]:
    """The cells of ``kind``'s row in docs/scene-format.md's table of free parameters, but the meaning."""
    if kind.group == "cameras":
        path, of = f"`camera.{kind.field}`, `cameras.<name>.{kind.field}`", "camera"
    else:
        path = f"`{kind.group}.<name>.{kind.field}`"
        of = ", ".join(f"{t} light" if kind.group == "lights" else t for t in kind.types)
        if kind.materials:  # those it can be freed on
            of += f" ({', '.join(m for m in kind.materials if m not in kind.fixed_for)})"
    if kind.unit:
        bounds = "unit length"
    elif kind.keep_sign:
        bounds = "keeps its sign"
    elif kind.lower == -math.inf and kind.upper == math.inf:
        bounds = "none"
    elif kind.upper == math.inf:
        bounds = f">= {kind.lower:g}"
    else:
        bounds = f"[{kind.lower:g}, {kind.upper:g}]"
    lr = f"`{kind.lr:g}`" + {"none": "", "scene": " x scene size", "value": " x start"}[kind.lr_scale]
    return [path, of, str(kind.size), bounds, lr]


def documented_rows() -> list[list[str]]:
    """The rows of the table of free parameters in docs/scene-format.md, as lists of cells."""
    lines = open(SCENE_FORMAT, encoding="utf-8").read().splitlines()
    start = lines.index("| Path | Of | Size | Bounds | Default `lr` | Meaning |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_the_scene_format_documents_every_free_kind_as_the_table_says():
    rows = documented_rows()
    assert [row[:5] for row in rows] == [documented_row(k) for k in FREE]
    assert all(row[5] for row in rows)  # every row says what the parameter means
    assert "camera.up" not in "".join(row[0] for row in rows)


# --------------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "type_", "path"), kind_cases())
def test_every_free_kind_resolves_on_a_scene_that_has_it(kind, type_, path):
    resolved = resolve(ONE, FreeParameter(path))
    element = element_of(ONE, path)
    assert element.type == type_
    assert resolved.kind is kind and resolved.path == path and resolved.element == element.name
    np.testing.assert_array_equal(resolved.start, kind.read(element))
    assert resolved.lower.shape == resolved.upper.shape == (kind.size,)
    assert np.all(resolved.lower <= resolved.start) and np.all(resolved.start <= resolved.upper)
    assert resolved.lr > 0 and math.isfinite(resolved.lr)
    assert resolved.component_names() == [f"{path}[{i}]" for i in range(kind.size)]


@pytest.mark.parametrize(("kind", "type_", "path"), [c for c in kind_cases(several=True) if c.values[0].group == "cameras"])
def test_camera_kinds_resolve_by_name_with_several_cameras(kind, type_, path):
    resolved = resolve(TWO, FreeParameter(path))
    assert resolved.element == "side" and resolved.key == ("cameras", "side", kind.field)
    np.testing.assert_array_equal(resolved.start, kind.read(TWO.cameras[1]))


@pytest.mark.parametrize(("path", "type_", "free"), [
    ("objects.ball.edge1", "sphere", "albedo, center, radius"),
    ("objects.ball.origin", "sphere", "albedo, center, radius"),
    ("objects.floor.radius", "quad", "albedo, origin, edge1, edge2"),
    ("objects.floor.rotate.angle", "quad", "albedo, origin, edge1, edge2"),
    ("objects.ball.translate", "sphere", "albedo, center, radius"),
    ("lights.sun.position", "directional", "direction, irradiance"),
    ("lights.key.irradiance", "point", "position, intensity"),
    ("lights.key.direction", "point", "position, intensity"),
])
def test_a_field_of_another_type_is_refused_naming_the_free_ones(path, type_, free):
    with pytest.raises(SceneError) as info:
        resolve(ONE, FreeParameter(path))
    assert info.value.location.key == f"optimize.{path}"
    field = path.split(".", 2)[2]
    assert f"'{field}' of a {type_}" in info.value.message and "cannot be optimised" in info.value.message
    assert info.value.message.endswith(f"free fields: {free}")


@pytest.mark.parametrize(("path", "hint"), [
    ("objects.ball.raduis", "radius"),
    ("objects.spun.rotate.angel", "rotate.angle"),
    ("lights.sun.irradience", "irradiance"),
    ("camera.lookat", "look_at"),
])
def test_a_misspelt_field_gets_the_nearest_free_one(path, hint):
    with pytest.raises(SceneError, match=re.escape(f"(did you mean '{hint}'?)")):
        resolve(ONE, FreeParameter(path))


@pytest.mark.parametrize("field", ["material.alpha", "material.int_ior", "material.ext_ior"])
def test_a_rough_plastics_roughness_and_indices_are_fixed(field):
    """Mitsuba's tables, computed once when the scene is built, depend on them (raydiff/device/plastic_tables.py)."""
    with pytest.raises(SceneError) as info:
        resolve(ONE, FreeParameter(f"objects.glaze.{field}"))
    assert f"'{field}' of a roughplastic sphere cannot be optimised" in info.value.message
    assert info.value.message.endswith("free fields: material.specular_reflectance, material.diffuse_reflectance, center, radius")
    assert resolve(ONE, FreeParameter("objects.shiny.material.alpha")).kind.field == "material.alpha"


def test_camera_up_is_refused():
    with pytest.raises(SceneError, match="'up' of a camera cannot be optimised; free fields: position, look_at, fov"):
        resolve(ONE, FreeParameter("camera.up"))


def test_camera_paths_with_one_camera():
    assert not ONE.several_views
    assert parse_path(ONE, "camera.fov", Location("s")).key == ("cameras", "camera", "fov")
    assert canonical_path(ONE, ("cameras", "camera", "fov")) == "camera.fov"
    for wrong in ("cameras.camera.fov", "cameras.x.fov"):
        with pytest.raises(SceneError, match=re.escape("this scene has one camera: write 'camera.fov'")):
            resolve(ONE, FreeParameter(wrong))


def test_camera_paths_with_several_cameras():
    assert TWO.several_views
    assert canonical_path(TWO, ("cameras", "front", "fov")) == "cameras.front.fov"
    with pytest.raises(SceneError, match=re.escape("several cameras (front, side): name one, 'cameras.<name>.fov'")):
        resolve(TWO, FreeParameter("camera.fov"))
    with pytest.raises(SceneError, match=re.escape("no camera named 'frnt' (did you mean 'front'?)")):
        resolve(TWO, FreeParameter("cameras.frnt.fov"))


def test_a_cameras_list_of_one_still_names_its_camera():
    text = scene_text(several=True)
    single = load(text[: text.index("  - {name: side")] + text[text.index("film:"):])
    assert len(single.cameras) == 1 and single.several_views
    assert resolve(single, FreeParameter("cameras.front.fov")).element == "front"
    with pytest.raises(SceneError, match="several cameras"):
        resolve(single, FreeParameter("camera.fov"))


@pytest.mark.parametrize("path", ["key.position", "lights.key", "camera", "camera..fov", "cameras.fov", "sky.a.b",
                                  "lights..position", ".lights.key.position"])
def test_malformed_paths(path):
    with pytest.raises(SceneError, match=re.escape("expected a path 'lights.<name>.<field>', 'objects.<name>.<field>'")):
        resolve(ONE, FreeParameter(path))


@pytest.mark.parametrize(("path", "message"), [
    ("lights.kye.position", "no light named 'kye' (did you mean 'key'?)"),
    ("objects.bal.albedo", "no object named 'bal' (did you mean 'ball'?)"),
])
def test_unknown_names(path, message):
    with pytest.raises(SceneError, match=re.escape(message)):
        resolve(ONE, FreeParameter(path))


def test_the_error_points_where_the_caller_says():
    where = Location("scene.yaml", "optimize.objects.ball.edge1", 27)
    with pytest.raises(SceneError) as info:
        resolve(ONE, FreeParameter("objects.ball.edge1"), where)
    assert info.value.location == where


# --------------------------------------------------------------------------------------------------------
# Bounds
# --------------------------------------------------------------------------------------------------------


def bounds(path: str, scene=ONE, **options):
    resolved = resolve(scene, FreeParameter(path, **options))
    return resolved.lower, resolved.upper


def test_a_radius_stays_positive():
    lower, upper = bounds("objects.ball.radius")
    assert lower[0] == pytest.approx(0.5e-3) and upper[0] == math.inf


def test_a_scale_keeps_each_components_sign():
    lower, upper = bounds("objects.box.scale")  # [0.5, 0.5, -0.5]
    np.testing.assert_allclose(lower, [0.5e-3, 0.5e-3, -math.inf])
    np.testing.assert_allclose(upper, [math.inf, math.inf, -0.5e-3])


def test_keep_sign_margin_follows_the_start():
    kind = find_kind("objects", "sphere", "radius")
    lower, _ = default_bounds(kind, np.array([20.0]))
    assert lower[0] == pytest.approx(0.02)


@pytest.mark.parametrize(("path", "lower", "upper"), [
    ("camera.fov", 0.1, 179.0),
    ("objects.ball.albedo", 0.0, 1.0),
    ("objects.floor.albedo", 0.0, 1.0),
    ("lights.key.intensity", 0.0, math.inf),
    ("lights.sun.irradiance", 0.0, math.inf),
    ("lights.key.position", -math.inf, math.inf),
    ("camera.position", -math.inf, math.inf),
    ("objects.floor.edge1", -math.inf, math.inf),
    ("objects.spun.rotate.angle", -math.inf, math.inf),
])
def test_default_bounds(path, lower, upper):
    lo, hi = bounds(path)
    assert np.all(lo == lower) and np.all(hi == upper)


def test_min_and_max_narrow_the_bounds_but_never_widen_them():
    lower, upper = bounds("objects.ball.albedo", min=0.2, max=0.9)
    assert np.all(lower == 0.2) and np.all(upper == 0.9)
    lower, upper = bounds("objects.ball.albedo", min=-5, max=7)
    assert np.all(lower == 0.0) and np.all(upper == 1.0)
    lower, upper = bounds("camera.fov", max=90)
    assert (lower[0], upper[0]) == (0.1, 90.0)
    lower, upper = bounds("objects.ball.radius", max=2)
    assert lower[0] == pytest.approx(0.5e-3) and upper[0] == 2.0
    lower, upper = bounds("lights.key.position", min=-1, max=3)
    assert np.all(lower == -1) and np.all(upper == 3)


@pytest.mark.parametrize(("path", "options", "message"), [
    ("lights.key.position", {"min": 2, "max": 1}, "min (2) is above max (1)"),
    ("camera.fov", {"min": 200}, "min (200) is above max (179)"),
    ("objects.ball.albedo", {"max": -0.5}, "min (0) is above max (-0.5)"),
    ("lights.key.intensity", {"max": -1}, "min (0) is above max (-1)"),
])
def test_min_above_max_is_refused(path, options, message):
    with pytest.raises(SceneError) as info:
        resolve(ONE, FreeParameter(path, **options))
    assert info.value.message == message


def test_a_radius_cannot_be_capped_below_zero():
    with pytest.raises(SceneError, match="is above max"):
        resolve(ONE, FreeParameter("objects.ball.radius", max=-1))


# --------------------------------------------------------------------------------------------------------
# Learning rates
# --------------------------------------------------------------------------------------------------------

SMALL, LARGE = load(scene_text(1.0)), load(scene_text(10.0))


def test_scene_size_is_the_diagonal_of_everything():
    # The floor spans x and z in [-3, 3] at y = 0, the camera stands at (0, 2, 4), the key light at y = 2;
    # the ball and both cubes lie inside that box.
    assert scene_size(SMALL) == pytest.approx(math.sqrt(6**2 + 2**2 + 7**2))
    assert scene_size(LARGE) == pytest.approx(10 * scene_size(SMALL))
    assert scene_size(TWO) == pytest.approx(math.sqrt(7**2 + 2**2 + 7**2))  # the side camera at x = 4


def test_a_directional_light_does_not_count_in_the_scene_size():
    sunless = replace(SMALL, lights=SMALL.lights[:1])
    assert scene_size(sunless) == scene_size(SMALL)


@pytest.mark.parametrize("kind", [pytest.param(k, id=f"{k.group}.{k.field}") for k in FREE])
def test_default_learning_rates_scale_as_the_table_says(kind):
    type_ = kind.types[-1]
    path = path_of(kind, type_)
    small, large = resolve(SMALL, FreeParameter(path)).lr, resolve(LARGE, FreeParameter(path)).lr
    if kind.lr_scale == "scene":  # positions: times the scene's size
        assert small == pytest.approx(kind.lr * scene_size(SMALL))
        assert large == pytest.approx(10 * small)
    elif kind.lr_scale == "value":  # sizes and brightness: times the largest starting component
        start = resolve(SMALL, FreeParameter(path)).start
        assert small == pytest.approx(kind.lr * np.max(np.abs(start)))
        if kind.device_group == "geometry":
            assert large == pytest.approx(10 * small)
    else:  # angles, albedos, directions: as they are
        assert small == large == kind.lr


def test_value_scaled_rates_have_a_floor():
    dark = with_values(SMALL, {"lights.key.intensity": np.zeros(3)})
    assert resolve(dark, FreeParameter("lights.key.intensity")).lr == pytest.approx(0.05)
    tiny = with_values(SMALL, {"objects.ball.radius": 1e-9})
    assert resolve(tiny, FreeParameter("objects.ball.radius")).lr == pytest.approx(0.01 * 1e-3 * scene_size(tiny))


def test_an_explicit_learning_rate_is_kept_and_must_be_positive():
    assert resolve(LARGE, FreeParameter("lights.key.position", lr=0.125)).lr == 0.125
    for lr in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(SceneError, match="lr must be a positive number"):
            resolve(ONE, FreeParameter("lights.key.position", lr=lr))


def test_resolve_all_keeps_the_file_order():
    scene = replace(ONE, optimize=(FreeParameter("camera.fov"), FreeParameter("objects.spun.rotate.angle"),
                                   FreeParameter("lights.key.position")))
    assert [r.path for r in resolve_all(scene)] == ["camera.fov", "objects.spun.rotate.angle", "lights.key.position"]


# --------------------------------------------------------------------------------------------------------
# Values back into the scene, and into its YAML document
# --------------------------------------------------------------------------------------------------------


def raw(element, field: str):
    """The value at ``field`` (dotted) of ``element`` as stored, not converted."""
    for part in field.split("."):
        element = getattr(element, part)
    return element


def others(scene, path: str) -> dict:
    """Every parameter of ``scene`` but the one at ``path``."""
    parsed = parse_path(scene, path, Location("s"))
    return {key: value for key, _, value in entries(scene) if key != parsed.key}


def round_trip(scene, path: str, kind):
    start = kind.read(element_of(scene, path))
    value = new_value(kind, start)
    changed = with_values(scene, {path: value})
    np.testing.assert_allclose(kind.read(element_of(changed, path)), value)
    before, after = others(scene, path), others(changed, path)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=str(key))
    assert changed.camera is changed.cameras[0] and changed.several_views == scene.several_views
    stored = raw(element_of(changed, path), kind.field)
    assert type(stored) is float if kind.size == 1 else all(type(x) is float for x in stored)

    document = copy.deepcopy(scene.document)
    write_into_document(scene, document, path, value)
    again = load(yaml.safe_dump(document, sort_keys=False))
    np.testing.assert_allclose(kind.read(element_of(again, path)), value, rtol=1e-12)
    return changed, document


@pytest.mark.parametrize(("kind", "type_", "path"), kind_cases())
def test_with_values_and_the_document_round_trip_every_kind(kind, type_, path):
    round_trip(ONE, path, kind)


@pytest.mark.parametrize(("kind", "type_", "path"), [c for c in kind_cases(several=True) if c.values[0].group == "cameras"])
def test_round_trip_with_several_cameras(kind, type_, path):
    changed, document = round_trip(TWO, path, kind)
    assert changed.cameras[0] == TWO.cameras[0]  # only "side" changed
    assert document["cameras"][0] == TWO.document["cameras"][0]
    assert "camera" not in document


def test_one_number_becomes_a_plain_float():
    document = copy.deepcopy(ONE.document)
    write_into_document(ONE, document, "camera.fov", np.array([50.0], dtype=np.float32))
    assert document["camera"]["fov"] == 50.0 and type(document["camera"]["fov"]) is float
    write_into_document(ONE, document, "lights.key.position", np.array([[1, 2, 3]]))
    assert document["lights"][0]["position"] == [1.0, 2.0, 3.0]
    assert with_values(ONE, {"objects.ball.radius": np.array([0.25])}).object("ball").radius == 0.25


def test_write_into_document_creates_the_rotation_the_file_left_out():
    box = ONE.document["objects"][2]
    assert "rotate" not in box and ONE.object("box").rotate == Rotation()
    document = copy.deepcopy(ONE.document)
    write_into_document(ONE, document, "objects.box.rotate.angle", 30)
    assert document["objects"][2]["rotate"] == {"angle": 30.0}
    write_into_document(ONE, document, "objects.box.rotate.axis", [1, 0, 0])
    assert document["objects"][2]["rotate"] == {"angle": 30.0, "axis": [1.0, 0.0, 0.0]}
    assert ONE.document["objects"][2] == box  # the scene's own document is left alone
    again = load(yaml.safe_dump(document, sort_keys=False))
    assert again.object("box").rotate == Rotation(axis=(1.0, 0.0, 0.0), angle=30.0)
    assert with_values(ONE, {"objects.box.rotate.angle": 30}).object("box").rotate == Rotation(angle=30.0)


def test_write_into_document_keeps_a_rotations_other_key():
    document = copy.deepcopy(ONE.document)
    write_into_document(ONE, document, "objects.spun.rotate.angle", -15)
    assert document["objects"][3]["rotate"] == {"axis": [1, 1, 0], "angle": -15.0}


def test_values_for_unknown_paths_are_refused():
    with pytest.raises(SceneError, match="no light named 'nope'"):
        with_values(ONE, {"lights.nope.position": np.zeros(3)})
    with pytest.raises(SceneError, match="'radius' is not a parameter of object 'floor'"):
        with_values(ONE, {"objects.floor.radius": 1.0})
    with pytest.raises(SceneError, match="several cameras"):
        with_values(TWO, {"camera.fov": 30.0})
    for path in ("objects.floor.radius", "cameras.camera.fov", "sky"):
        with pytest.raises(ValueError):
            write_into_document(ONE, copy.deepcopy(ONE.document), path, 1.0)
