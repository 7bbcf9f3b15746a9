"""Read and write scene files: YAML text in, a validated :class:`raydiff.scene.Scene` out, and back.

The format is documented in ``docs/scene-format.md``. Reading goes in three steps:

1. ``_parse``: YAML text to plain data (dicts, lists, scalars) plus the 1-based line of every key, so that
   every error can point at its line. Duplicate keys are errors here, not silently the last one.
2. One ``_read_*`` function per section, built from a few typed field readers (``read_vec3``,
   ``read_number``, ``read_int`` ...) and :class:`_Mapping`, which rejects unknown keys and reports missing
   ones. Every problem raises :class:`SceneError` with the file, the key path (``objects[2].radius``) and
   the line.
3. Every ``optimize`` entry is checked against the scene by :func:`raydiff.parameters.resolve`.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import yaml

from ..errors import ImageError, Location, OutputError, SceneError
from ..io.files import write_text
from ..io.images import read_image, write_image
from ..io.paths import Problem, file_problem, read_regular_file
from ..io.text import decode_utf8
from .obj import read_obj_mesh
from .model import (
    Camera,
    Conductor,
    DirectionalLight,
    Film,
    FreeParameter,
    Light,
    Mesh,
    Object,
    PointLight,
    Quad,
    Material,
    Rotation,
    RoughConductor,
    RoughPlastic,
    Scene,
    Sphere,
    Texture,
    Vec3,
    is_texture,
)
from .parameters import parse_path, resolve, scene_size, write_into_document
from .limits import (
    INT32_MAX,
    MAX_ALPHA,
    MAX_CAMERAS,
    MAX_DEPTH,
    MAX_IOR,
    MAX_FILM_SIZE,
    MAX_LENGTH,
    MAX_LIGHTS,
    MAX_PIXELS,
    MAX_RADIANT,
    MAX_SCENE_BYTES,
    MAX_SPP,
    MAX_TEXTURE_SIDE,
    MAX_TRIANGLES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    MAX_YAML_VALUES,
    MIN_ALPHA,
    MIN_DEPTH,
    float32_problem,
    length_problem,
)
from .placement import has_area
_REQUIRED = object()
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SCENE_MAPPING = "a mapping with camera (or cameras), film, objects and lights"


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------


def load_scene(path: str | os.PathLike) -> Scene:
    """Read and validate a scene file.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML scene file. Mesh ``file:`` entries are resolved relative to its directory.

    Returns
    -------
    Scene
        The validated scene; ``source`` is ``path`` as given and ``document`` the parsed YAML.

    Raises
    ------
    SceneError
        If the path is not a readable regular file (missing, a folder, a named pipe, a broken symbolic
        link or a link loop: each named as such, and a pipe is never opened), the file is not valid UTF-8
        (a leading byte-order mark is fine), or for any problem listed in :func:`load_scene_string`.
    """
    source = os.fspath(path)
    data = read_regular_file(source, lambda problem: SceneError(Location(source), _cannot_read(problem, "scene")),
                             limit=MAX_SCENE_BYTES + 1)  # no more: a larger file is refused unread
    if len(data) > MAX_SCENE_BYTES:
        _too_large(source, _file_size(source))
    text = decode_utf8(data, lambda line, message: SceneError(Location(source, line=line), message))
    return load_scene_string(text, source=source, base_dir=os.path.dirname(source) or ".")


def _cannot_read(problem: Problem, what: str, name: str | None = None) -> str:
    """``cannot read <what> file ['<name>']: <reason>``, and what was expected where something else is."""
    expected = f"; expected a {what} file" if problem.wrong_kind else ""
    named = f" '{name}'" if name is not None else ""
    return f"cannot read {what} file{named}: {problem.reason}{expected}"


def load_scene_string(text: str, source: str = "<string>", base_dir: str = ".") -> Scene:
    """Validate a scene given as YAML text.

    Parameters
    ----------
    text : str
        The YAML document.
    source : str, optional
        The name used in error messages and kept as ``Scene.source``.
    base_dir : str, optional
        The directory that relative mesh ``file:`` paths are resolved against.

    Returns
    -------
    Scene

    Raises
    ------
    SceneError
        For malformed YAML, lists and mappings nested more than :data:`MAX_YAML_DEPTH` deep (also through
        aliases), a document that is not a mapping, unknown or missing or duplicate keys, values
        of the wrong type, length or range, duplicate names, unreadable meshes, or invalid ``optimize``
        entries. The error's location holds the file, the key path and, when known, the line.
    """
    if len(text) > MAX_SCENE_BYTES:  # at least as many bytes as characters
        _too_large(source, len(text.encode("utf-8")))
    data, lines = _parse(text, source)
    doc = _Doc(source, lines, base_dir)
    root = _Mapping(doc, "", data, what=f"a scene: {_SCENE_MAPPING}")
    root.only(("camera", "cameras", "film", "max_depth", "objects", "lights", "optimize"))
    if "camera" in data and "cameras" in data:
        raise doc.error("cameras", "give either 'camera' (one view) or 'cameras' (several), not both")
    if "cameras" in data:
        cameras = root.get("cameras", _read_cameras)
    elif "camera" in data:
        cameras = (root.get("camera", _read_camera),)
    else:
        raise doc.error("camera", "missing required key 'camera' (or 'cameras', for several views)", fallback="")
    scene = Scene(
        camera=None,
        cameras=cameras,
        film=root.get("film", _read_film),
        objects=root.get("objects", _read_objects),
        lights=root.get("lights", _read_lights),
        optimize=root.get("optimize", _read_optimize, ()),
        max_depth=root.get("max_depth", read_depth, MIN_DEPTH),
        source=source,
        document=data,
    )
    pixels = len(cameras) * scene.film.width * scene.film.height
    doc.check(pixels <= MAX_PIXELS, "cameras" if "cameras" in data else "film",
              f"{len(cameras)} view(s) of {scene.film.width}x{scene.film.height} pixels are {pixels} pixels, more than "
              f"the {MAX_PIXELS} the device can index (int32): use fewer cameras or a smaller film")
    size = scene_size(scene) if scene.optimize else 1.0
    for entry in scene.optimize:
        key = _join("optimize", entry.path)
        resolve(scene, entry, doc.location(key), size=size)
    return scene


def dump_scene(scene: Scene, path: str | os.PathLike, values: dict[str, np.ndarray] | None = None) -> None:
    """Write ``scene`` back as YAML, keeping the user's layout, with some values replaced.

    The scene's ``document`` is written with the user's key order; the values at the given dotted paths
    (``lights.key.position``) are replaced by plain lists of floats, and every mesh ``file:`` is rewritten
    relative to the output file's directory, so that the written file loads from its new place. The file
    is written atomically (a temporary file in the same directory, then renamed).

    Parameters
    ----------
    scene : Scene
        A scene read by :func:`load_scene` or :func:`load_scene_string` (it needs its ``document``).
    path : str or os.PathLike
        The file to write.
    values : dict of str to numpy.ndarray, optional
        New values by dotted path, e.g. ``{"lights.key.position": np.array([1.0, 2.0, 0.5])}``.

    Raises
    ------
    ValueError
        If the scene has no document or a path names no light or object of the scene.
    SceneError
        If the file cannot be written.
    """
    target = os.fspath(path)
    if not scene.document:
        raise ValueError("the scene has no YAML document to write (was it read by load_scene?)")
    document = copy.deepcopy(scene.document)
    out_dir = os.path.dirname(os.path.abspath(target))
    for i, obj in enumerate(scene.objects):
        if isinstance(obj, Mesh):
            document["objects"][i]["file"] = _relative(obj.file, out_dir)
        if is_texture(obj.albedo) and obj.albedo.file is not None:
            document["objects"][i]["albedo"] = {"texture": _relative(obj.albedo.file, out_dir)}
    for dotted, value in (values or {}).items():
        write_into_document(scene, document, dotted, _texture_file(scene, dotted, value, out_dir))
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, allow_unicode=True)
    try:
        write_text(target, text)
    except OutputError as err:
        raise SceneError(Location(target), f"cannot write scene file: {err.message}") from None


def _texture_file(scene: Scene, dotted: str, value, out_dir: str):
    """``value`` itself, or, for a texture's texels, the image written for it (linear float EXR, exact,
    in ``fitted/`` beside the scene file written: ``fitted/<object>_albedo.exr``), relative to ``out_dir``."""
    array = np.asarray(value) if not isinstance(value, str) else None
    if array is None or array.size <= 3:
        return value
    try:
        path = parse_path(scene, dotted, Location(scene.source, dotted))
    except SceneError as err:
        raise ValueError(err.message) from None
    obj = next((o for o in scene.objects if o.name == path.name), None)
    if path.group != "objects" or obj is None or not is_texture(getattr(obj, path.field, None)):
        return value  # not a texture: write_into_document names the problem
    texels = array.astype(np.float32).reshape(obj.albedo.texels.shape)
    relative = f"fitted/{path.name}_{path.field.replace('.', '_')}.exr"
    os.makedirs(os.path.join(out_dir, "fitted"), exist_ok=True)
    try:
        write_image(os.path.join(out_dir, relative), texels)
    except (OutputError, ImageError) as err:
        raise SceneError(Location(os.path.join(out_dir, relative)), f"cannot write texture: {err.message}") from None
    return relative


def _file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _too_large(source: str, size: int | None) -> None:
    """Refuse a scene file over :data:`MAX_SCENE_BYTES`, before parsing it."""
    found = f"{size} bytes" if size and size > MAX_SCENE_BYTES else f"more than {MAX_SCENE_BYTES} bytes"
    raise SceneError(Location(source), f"the scene file is {found}, over the limit of {MAX_SCENE_BYTES} bytes "
                                       "(1 MiB) for a scene file; meshes go in OBJ files (type: mesh, file: ...)")


# --------------------------------------------------------------------------------------------------------
# Step 1: YAML text to plain data, remembering the line of every key
# --------------------------------------------------------------------------------------------------------


def _join(parent: str, key: str | int) -> str:
    """The path of ``key`` inside ``parent``: ``camera.fov``, ``objects[2]``, ``optimize.lights.k.position``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _parse(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML ``text`` into plain data and a table of key path to 1-based line."""
    _count_nodes(text, source)
    loader = None
    try:
        loader = _Loader(text, source)
        node = loader.get_single_node()
        if node is None:
            raise SceneError(Location(source), f"empty document; expected {_SCENE_MAPPING}")
        lines: dict[str, int] = {"": node.start_mark.line + 1}
        return _Converter(loader, source, lines).convert(node, ""), lines
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "malformed YAML"
        if problem.startswith("but") and err.context:
            problem = f"{err.context}, {problem}"
        line = mark.line + 1 if mark else None
        raise SceneError(Location(source, line=line), f"malformed YAML: {_tag(problem)}") from None
    except yaml.YAMLError as err:  # a ReaderError: a character YAML does not allow
        position = getattr(err, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise SceneError(Location(source, line=line), f"malformed YAML: {str(err).splitlines()[0]}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _too_deep(source: str, line: int, through: str = "") -> SceneError:
    return SceneError(Location(source, line=line),
                      f"lists and mappings nested more than {MAX_YAML_DEPTH} levels deep{through}; "
                      f"expected at most {MAX_YAML_DEPTH} (a scene has about 5)")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing lists and mappings nested more than :data:`MAX_YAML_DEPTH` deep.

    PyYAML's composer calls itself once per level of nesting, so ``[[[[...]]]]`` ten thousand deep would
    end in a RecursionError; the depth is counted on the way down and refused, with the line where the
    level too many starts, long before Python's recursion limit.
    """

    def __init__(self, text: str, source: str):
        super().__init__(text)
        self.source = source
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent, index):
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise _too_many_nodes(self.source, self.peek_event().start_mark)
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise _too_deep(self.source, self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _tag(text: str) -> str:
    """``text`` with YAML's long tag names shortened (``tag:yaml.org,2002:int`` to ``!!int``)."""
    return text.replace("tag:yaml.org,2002:", "!!")


_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)


def _too_many_nodes(source: str, mark) -> SceneError:
    return SceneError(Location(source, line=mark.line + 1),
                      f"document too large: more than {MAX_YAML_NODES} YAML values (keys, numbers, lists, mappings), "
                      "the limit for a scene file; meshes go in OBJ files")


def _count_nodes(text: str, source: str) -> None:
    """Refuse a document of more than :data:`MAX_YAML_NODES` nodes before the slow, pure-Python parse: libyaml's
    event parser (where PyYAML has it) counts them some 30 times faster. A syntax error stops the count
    silently; the real parse reports it."""
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None:
        return  # _Loader still counts while composing
    count = 0
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, _NODE_EVENTS):
                count += 1
                if count > MAX_YAML_NODES:
                    raise _too_many_nodes(source, event.start_mark)
    except yaml.YAMLError:
        return


class _Converter:
    """Turns a composed YAML node graph into dicts, lists and scalars, filling a key-to-line table."""

    def __init__(self, loader: yaml.SafeLoader, source: str, lines: dict[str, int]):
        self.loader = loader
        self.source = source
        self.lines = lines
        self.active: set[int] = set()  # ids of the collections being converted, to catch recursive aliases
        self.budget = MAX_YAML_VALUES
        self.depth = 0  # aliases can nest deeper than the composer saw: an anchor's depth adds to the alias's

    def error(self, node: yaml.Node, key: str, message: str) -> SceneError:
        return SceneError(Location(self.source, key or None, node.start_mark.line + 1), message)

    def convert(self, node: yaml.Node, path: str) -> Any:
        self.budget -= 1
        if self.budget < 0:
            written = getattr(self.loader, "nodes", 0)
            raise self.error(node, path, f"document too large: aliases (*name) expand its {written} YAML values to "
                                         f"more than {MAX_YAML_VALUES}, the limit; repeat less through aliases")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            raise self.error(node, path, "recursive YAML alias; expected plain nested data")
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            raise self.error(node, path, f"unsupported YAML tag '{_tag(node.tag)}'; expected a plain mapping or list")
        if self.depth >= MAX_YAML_DEPTH:
            raise _too_deep(self.source, node.start_mark.line + 1, " (through aliases)")
        self.active.add(id(node))
        self.depth += 1
        try:
            return self.mapping(node, path) if isinstance(node, yaml.MappingNode) else self.sequence(node, path)
        finally:
            self.depth -= 1
            self.active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        if node.tag not in self.loader.yaml_constructors:  # e.g. "!!python/object:os.system 45"
            raise self.error(node, path, f"unsupported YAML tag '{_tag(node.tag)}'; expected a plain number or text")
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception:  # a constructor of PyYAML's choking on e.g. "!!int abc"
            raise self.error(node, path, f"cannot read {node.value!r} as {_tag(node.tag)}") from None

    def sequence(self, node: yaml.SequenceNode, path: str) -> list:
        items = []
        for i, item in enumerate(node.value):
            self.lines[_join(path, i)] = item.start_mark.line + 1
            items.append(self.convert(item, _join(path, i)))
        return items

    def mapping(self, node: yaml.MappingNode, path: str) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            child = _join(path, key)
            if key in result:
                first = self.lines[child]
                raise self.error(key_node, child, f"duplicate key '{key}' (first given on line {first})")
            self.lines[child] = key_node.start_mark.line + 1
            result[key] = self.convert(value_node, child)
        return result

    def key(self, node: yaml.Node, path: str) -> str:
        if node.tag == "tag:yaml.org,2002:merge":
            raise self.error(node, path, "YAML merge keys ('<<') are not supported; expected plain keys")
        key = self.convert(node, path)
        if not isinstance(key, str):
            raise self.error(node, path, f"expected text keys, got {_show(key)}")
        return key


# --------------------------------------------------------------------------------------------------------
# Step 2a: typed field readers. Each takes (doc, key path, value) and returns the checked value.
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Doc:
    """What every reader needs: the file's name, its key-to-line table and the directory of meshes."""

    file: str
    lines: dict[str, int]
    base_dir: str

    def location(self, key: str, fallback: str | None = None) -> Location:
        """Where ``key`` is; its line, or the line of ``fallback`` (e.g. the parent) where it has none."""
        line = self.lines.get(key, self.lines.get(fallback) if fallback is not None else None)
        return Location(self.file, key or None, line)

    def error(self, key: str, message: str, fallback: str | None = None) -> SceneError:
        return SceneError(self.location(key, fallback), message)

    def check(self, ok: bool, key: str, message: str) -> None:
        if not ok:
            raise self.error(key, message)


Reader = Callable[[_Doc, str, Any], Any]


def _show(value: Any) -> str:
    """A short YAML-ish rendering of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        if len(value) > 6 or any(isinstance(v, (list, dict)) for v in value):
            return f"a list of {len(value)} items"
        return "[" + ", ".join(_show(v) for v in value) + "]"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _quoted_key(name: str) -> str:
    """``'name'``; with any invisible character (a zero-width space, a no-break space, a control
    character) written as its code point and named, since the quoted key would look like a valid one."""
    hidden = [c for c in name if not c.isprintable() or c.isspace() or unicodedata.category(c) == "Cf"]
    if not hidden:
        return f"'{name}'"
    shown = "".join(f"\\u{ord(c):04x}" if c in hidden else c for c in name)
    codes = ", ".join(dict.fromkeys(f"U+{ord(c):04X} {unicodedata.name(c, 'control character')}" for c in hidden))
    return f"'{shown}', which holds an invisible {codes}"


def _suggest(word: str, options) -> str:
    """`` (did you mean 'x'?)`` for the nearest option, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_float(doc: _Doc, key: str, value: Any, expected: str, shown: Any = None, float32: bool = True) -> float:
    """``value`` as a finite float (ints are fine, booleans are not); ``shown`` is what messages quote.

    With ``float32`` (the default) the number must also survive as a float32, as the device holds it:
    neither beyond its range (``1e39``) nor so small that it becomes 0 (``1e-50``)."""
    shown = value if shown is None else shown
    if not _is_number(value):
        raise doc.error(key, f"expected {expected}, got {_show(shown)}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise doc.error(key, f"expected {expected}, got {_show(shown)} (not finite)")
    problem = float32_problem(number) if float32 else None
    if problem:
        raise doc.error(key, f"expected {expected} the device can hold, got {_show(shown)}: {number:g} is {problem}")
    return number


def _check_lengths(doc: _Doc, key: str, numbers, shown: Any) -> None:
    """Every one of ``numbers`` is a usable coordinate or length (:func:`raydiff.scene.limits.length_problem`)."""
    for number in numbers:
        problem = length_problem(number)
        if problem:
            raise doc.error(key, f"expected coordinates and lengths the device can square, got {_show(shown)}: "
                                 f"{number:g} is {problem}")


def read_number(doc: _Doc, key: str, value: Any) -> float:
    """A finite number (int or float, not a boolean) that a float32 holds."""
    return _as_float(doc, key, value, "a number")


def read_length(doc: _Doc, key: str, value: Any) -> float:
    """A number usable as a length: at most :data:`raydiff.scene.limits.MAX_LENGTH` in magnitude, and 0 or
    at least :data:`raydiff.scene.limits.MIN_LENGTH`."""
    number = read_number(doc, key, value)
    _check_lengths(doc, key, (number,), value)
    return number


def read_int(doc: _Doc, key: str, value: Any, high: int = INT32_MAX) -> int:
    """A positive integer up to ``high`` (the device's int32 by default; a float such as ``200.0`` is not
    accepted)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise doc.error(key, f"expected a positive integer, got {_show(value)}")
    if value > high:
        raise doc.error(key, f"expected a positive integer up to {high}, got {_show(value)}")
    return value


def read_text(doc: _Doc, key: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise doc.error(key, f"expected non-empty text, got {_show(value)}")
    return value


def read_name(doc: _Doc, key: str, value: Any) -> str:
    """A name for a light or object: non-empty text without dots or spaces (it is used in dotted paths)."""
    if not isinstance(value, str) or not value or "." in value or any(c.isspace() for c in value):
        raise doc.error(key, f"expected a name (text without dots or spaces), got {_show(value)}")
    return value


def read_vec3(doc: _Doc, key: str, value: Any, float32: bool = True) -> Vec3:
    """A list of exactly 3 finite numbers (each one a float32 holds, unless not ``float32``), as a tuple of
    floats."""
    if not isinstance(value, list) or len(value) != 3 or not all(_is_number(v) for v in value):
        raise doc.error(key, f"expected 3 numbers, got {_show(value)}")
    x, y, z = (_as_float(doc, key, v, "3 numbers", shown=value, float32=float32) for v in value)
    return x, y, z


def read_point(doc: _Doc, key: str, value: Any) -> Vec3:
    """3 numbers usable as coordinates (see :func:`read_length`): a position, a centre, an offset."""
    vector = read_vec3(doc, key, value)
    _check_lengths(doc, key, vector, value)
    return vector


def read_nonzero_vec3(doc: _Doc, key: str, value: Any) -> Vec3:
    """3 numbers, not all zero (a direction)."""
    vector = read_vec3(doc, key, value)
    doc.check(any(vector), key, f"expected a nonzero vector, got {_show(value)}")
    return vector


def read_edge(doc: _Doc, key: str, value: Any) -> Vec3:
    """3 numbers, not all zero, usable as lengths (a quad's edge)."""
    vector = read_nonzero_vec3(doc, key, value)
    _check_lengths(doc, key, vector, value)
    return vector


def read_colour(doc: _Doc, key: str, value: Any) -> Vec3:
    """An RGB triple, or one number meaning grey (the same value in all three channels)."""
    if _is_number(value):
        grey = _as_float(doc, key, value, "a number or 3 numbers")
        return grey, grey, grey
    if not isinstance(value, list):
        raise doc.error(key, f"expected a number or 3 numbers, got {_show(value)}")
    return read_vec3(doc, key, value)


def read_albedo(doc: _Doc, key: str, value: Any) -> Vec3:
    """A colour with every channel in [0, 1]."""
    albedo = read_colour(doc, key, value)
    doc.check(all(0.0 <= c <= 1.0 for c in albedo), key, f"expected albedo values in [0, 1], got {_show(value)}")
    return albedo


def _read_resolution(doc: _Doc, key: str, value: Any) -> tuple[int, int]:
    """A texture's ``resolution: [width, height]``: two integers in [1, :data:`MAX_TEXTURE_SIDE`]."""
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_TEXTURE_SIDE for v in value))
    doc.check(ok, key, f"expected [width, height], two integers from 1 to {MAX_TEXTURE_SIDE}, got {_show(value)}")
    return value[0], value[1]


def _read_texture_file(doc: _Doc, key: str, value: Any) -> Texture:
    """A texture's image file (relative to the scene's directory): sRGB PNG/JPEG or linear EXR, as
    :func:`raydiff.io.images.read_image` decodes it, every value in [0, 1]."""
    written = read_text(doc, key, value)
    resolved = os.path.abspath(os.path.join(doc.base_dir, written))
    problem = file_problem(resolved)
    if problem is not None:
        raise doc.error(key, f"{_cannot_read(problem, 'texture', written)} (looked for {resolved})")
    try:
        texels = read_image(resolved).linear
    except ImageError as err:
        raise doc.error(key, f"texture file '{written}': {err.message}") from None
    height, width = texels.shape[:2]
    doc.check(max(width, height) <= MAX_TEXTURE_SIDE, key,
              f"texture file '{written}' is {width} x {height} texels; at most {MAX_TEXTURE_SIDE} a side")
    doc.check(bool(((texels >= 0.0) & (texels <= 1.0)).all()), key,
              f"texture file '{written}' has values outside [0, 1] (an albedo reflects at most what it receives)")
    return Texture(np.ascontiguousarray(texels, dtype=np.float32), file=resolved, file_as_written=written)


def read_albedo_or_texture(doc: _Doc, key: str, value: Any) -> Vec3 | Texture:
    """An object's ``albedo``: a colour (:func:`read_albedo`), or a texture, ``{texture: file}`` or a flat
    start at a given size, ``{resolution: [width, height], value: colour}`` (value 0.5 by default)."""
    if not isinstance(value, dict):
        return read_albedo(doc, key, value)
    m = _Mapping(doc, key, value)
    m.only(("texture", "resolution", "value"), owner="a texture")
    if "texture" in value:
        if "resolution" in value or "value" in value:
            bad = "resolution" if "resolution" in value else "value"
            raise doc.error(_join(key, bad), "a texture read from a file has its own size and values: give "
                                             "either 'texture' or 'resolution' (with 'value'), not both")
        return m.get("texture", _read_texture_file)
    width, height = m.get("resolution", _read_resolution)
    colour = m.get("value", read_albedo, (0.5, 0.5, 0.5))
    return Texture(np.broadcast_to(np.asarray(colour, np.float32), (height, width, 3)).copy())


def read_reflectance(doc: _Doc, key: str, value: Any) -> Vec3:
    """A colour with every channel in [0, 1] (a material's reflectance)."""
    colour = read_colour(doc, key, value)
    doc.check(all(0.0 <= c <= 1.0 for c in colour), key, f"expected values in [0, 1], got {_show(value)}")
    return colour


def _check_radiant(doc: _Doc, key: str, colour: Vec3, value: Any, what: str) -> None:
    doc.check(all(c <= MAX_RADIANT for c in colour), key,
              f"expected {what} up to {MAX_RADIANT:g} (so that the loss, which squares pixel values, stays finite "
              f"in float32), got {_show(value)}")


def read_intensity(doc: _Doc, key: str, value: Any) -> Vec3:
    """A colour with every channel >= 0 (W/sr), at most :data:`raydiff.scene.limits.MAX_RADIANT`."""
    intensity = read_colour(doc, key, value)
    doc.check(all(c >= 0.0 for c in intensity), key, f"expected intensities >= 0, got {_show(value)}")
    _check_radiant(doc, key, intensity, value, "intensities")
    return intensity


def read_irradiance(doc: _Doc, key: str, value: Any) -> Vec3:
    """A colour with every channel >= 0 (W/m^2), at most :data:`raydiff.scene.limits.MAX_RADIANT`."""
    irradiance = read_colour(doc, key, value)
    doc.check(all(c >= 0.0 for c in irradiance), key, f"expected irradiance values >= 0, got {_show(value)}")
    _check_radiant(doc, key, irradiance, value, "irradiance values")
    return irradiance


def read_scale(doc: _Doc, key: str, value: Any) -> Vec3:
    """A positive number (uniform scale) or 3 nonzero numbers (per axis; negative mirrors)."""
    if _is_number(value):
        s = _as_float(doc, key, value, "a positive number or 3 nonzero numbers")
        doc.check(s > 0, key, f"expected a positive number or 3 nonzero numbers, got {_show(value)}")
        _check_lengths(doc, key, (s,), value)
        return s, s, s
    if not isinstance(value, list):
        raise doc.error(key, f"expected a positive number or 3 nonzero numbers, got {_show(value)}")
    scale = read_vec3(doc, key, value)
    doc.check(all(scale), key, f"expected a positive number or 3 nonzero numbers, got {_show(value)}")
    _check_lengths(doc, key, scale, value)
    return scale


def read_choice(options: tuple[str, ...], what: str) -> Reader:
    """A reader for one of ``options`` (e.g. an object type), suggesting the nearest on a miss."""

    def read(doc: _Doc, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise doc.error(key, f"expected {what} (one of {', '.join(options)}), got {_show(value)}")
        if value not in options:
            hint = _suggest(value, options)
            raise doc.error(key, f"unknown {what} {_show(value)}{hint}; expected one of {', '.join(options)}")
        return value

    return read


def read_list(what: str) -> Reader:
    """A reader for a non-empty list (of ``what``, named in messages)."""

    def read(doc: _Doc, key: str, value: Any) -> list:
        if not isinstance(value, list):
            raise doc.error(key, f"expected a list of {what}, got {_show(value)}")
        doc.check(bool(value), key, f"expected at least one {what[:-1]}, got an empty list")
        return value

    return read


class _Mapping:
    """A YAML mapping at a key path, read field by field.

    ``get`` reads one key with a reader (or returns its default, or reports it missing); ``only`` rejects
    keys outside an allowed set, suggesting the nearest one.
    """

    def __init__(self, doc: _Doc, key: str, value: Any, what: str = "a mapping"):
        if not isinstance(value, dict):
            raise doc.error(key, f"expected {what}, got {_show(value)}")
        self.doc = doc
        self.key = key
        self.value = value

    def only(self, allowed: tuple[str, ...], owner: str | None = None) -> None:
        """Reject a key outside ``allowed``; ``owner`` (e.g. ``"a sphere"``) is named in the list of valid keys."""
        for name in self.value:
            if name not in allowed:
                valid = f"valid keys for {owner}" if owner else "valid keys"
                hint = _suggest(name, allowed) or f"; {valid}: {', '.join(allowed)}"
                raise self.doc.error(_join(self.key, name), f"unknown key {_quoted_key(name)}{hint}")

    def get(self, name: str, read: Reader, default: Any = _REQUIRED) -> Any:
        key = _join(self.key, name)
        if name in self.value:
            return read(self.doc, key, self.value[name])
        if default is _REQUIRED:
            raise self.doc.error(key, f"missing required key '{name}'", fallback=self.key)
        return default


# --------------------------------------------------------------------------------------------------------
# Step 2b: one reader per section
# --------------------------------------------------------------------------------------------------------


def _parallel(a: Vec3, b: Vec3) -> bool:
    """True if ``a`` and ``b`` are (anti)parallel or either is zero, up to rounding."""
    cross = np.cross(a, b)
    return float(np.linalg.norm(cross)) <= 1e-9 * float(np.linalg.norm(a)) * float(np.linalg.norm(b))


def _read_camera(doc: _Doc, key: str, value: Any, index: int | None = None) -> Camera:
    """The ``camera`` section, or one entry of ``cameras`` (``index``; these also have a name and a
    weight): position, look_at, up (not parallel to the view) and 0 < fov < 180."""
    m = _Mapping(doc, key, value)
    if index is None:
        for extra in ("name", "weight"):
            if extra in value:
                raise doc.error(_join(key, extra), f"unknown key '{extra}': a single camera has no name or weight; "
                                                   "list the views under 'cameras:' to name and weigh them")
    m.only(("position", "look_at", "up", "fov") + (("name", "weight") if index is not None else ()))
    name = m.get("name", read_name, f"camera{index}") if index is not None else "camera"
    weight = m.get("weight", read_number, 1.0) if index is not None else 1.0
    doc.check(weight > 0, _join(key, "weight"), f"expected a positive weight, got {weight:g}")
    position = m.get("position", read_point)
    look_at = m.get("look_at", read_point)
    up = m.get("up", read_nonzero_vec3, (0.0, 1.0, 0.0))
    fov = m.get("fov", read_number, 40.0)
    forward = tuple(np.subtract(look_at, position))
    doc.check(any(forward), _join(key, "look_at"), "expected look_at to differ from position")
    with np.errstate(all="ignore"):
        look_at32, position32 = np.asarray(look_at, np.float32), np.asarray(position, np.float32)
    doc.check(not (np.isfinite(look_at32).all() and np.array_equal(look_at32, position32)), _join(key, "look_at"),
              f"expected look_at to differ from position in float32, as the renderer holds them, got "
              f"{_show(list(look_at))} and {_show(list(position))}")
    doc.check(not _parallel(up, forward), _join(key, "up"),
              f"expected up not parallel to look_at - position, got {_show(list(up))}")
    doc.check(0.0 < fov < 180.0, _join(key, "fov"),
              f"expected a horizontal field of view between 0 and 180 degrees (exclusive), got {fov:g}")
    return Camera(position=position, look_at=look_at, up=up, fov=fov, name=name, weight=weight)


def _read_cameras(doc: _Doc, key: str, value: Any) -> tuple[Camera, ...]:
    """The ``cameras`` section: a non-empty list of named views, sharing the film."""
    items = read_list("cameras")(doc, key, value)
    doc.check(len(items) <= MAX_CAMERAS, key, f"expected at most {MAX_CAMERAS} cameras, got {len(items)}")
    cameras = [_read_camera(doc, _join(key, i), item, i) for i, item in enumerate(items)]
    _check_unique_names(doc, key, cameras, "camera")
    return tuple(cameras)


def _read_film(doc: _Doc, key: str, value: Any) -> Film:
    """The ``film`` section: width and height in pixels, samples per pixel."""
    m = _Mapping(doc, key, value)
    m.only(("width", "height", "spp"))
    width, height = m.get("width", read_int), m.get("height", read_int)
    for name, size in (("width", width), ("height", height)):
        doc.check(size <= MAX_FILM_SIZE, _join(key, name),
                  f"expected a positive integer up to {MAX_FILM_SIZE}, got {size}")
    return Film(width=width, height=height, spp=m.get("spp", lambda d, k, v: read_int(d, k, v, MAX_SPP), 4))


def _read_sphere(m: _Mapping, name: str, albedo: Vec3) -> Sphere:
    """A sphere's own keys: center and radius > 0."""
    center, radius = m.get("center", read_point), m.get("radius", read_length)
    m.doc.check(radius > 0, _join(m.key, "radius"), f"expected a positive radius, got {radius:g}")
    return Sphere(name=name, center=center, radius=radius, albedo=albedo)


def _read_quad(m: _Mapping, name: str, albedo: Vec3) -> Quad:
    """A quad's own keys: origin and two nonzero, non-parallel edges."""
    origin = m.get("origin", read_point)
    edge1, edge2 = m.get("edge1", read_edge), m.get("edge2", read_edge)
    m.doc.check(not _parallel(edge1, edge2), _join(m.key, "edge2"),
                f"expected edge2 not parallel to edge1, got {_show(list(edge2))} and {_show(list(edge1))}")
    return Quad(name=name, origin=origin, edge1=edge1, edge2=edge2, albedo=albedo)


def read_direction(doc: _Doc, key: str, value: Any) -> Vec3:
    """3 numbers, not all zero, made unit length (a light's direction, a rotation's axis).

    A tiny (``1.0e-200``) or huge (``1.0e+300``) vector is first divided by its largest component, so that
    its length neither underflows nor overflows: every nonzero direction is kept, and the kernels, in
    float32, get a unit vector.
    """
    vector = np.asarray(read_vec3(doc, key, value, float32=False), dtype=np.float64)
    doc.check(bool(vector.any()), key, f"expected a nonzero vector, got {_show(value)}")
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(vector)))
        if not 1e-150 < largest < 1e150:  # else its length could underflow or overflow
            vector = vector / largest
        unit = vector / np.linalg.norm(vector)
    doc.check(bool(np.isfinite(unit).all()) and any(unit), key,
              f"expected a direction (3 numbers, not all zero), got {_show(value)}, which has no usable length")
    return tuple(float(x) for x in unit)


def _read_rotation(doc: _Doc, key: str, value: Any) -> Rotation:
    """A mesh's ``rotate: {axis, angle}`` (both optional; the axis is made unit length)."""
    m = _Mapping(doc, key, value, what="a mapping {axis: [x, y, z], angle: degrees}")
    m.only(("axis", "angle"))
    return Rotation(axis=m.get("axis", read_direction, (0.0, 1.0, 0.0)), angle=m.get("angle", read_number, 0.0))


def _read_mesh(m: _Mapping, name: str, albedo: Vec3) -> Mesh:
    """A mesh's own keys: the OBJ file (relative to the scene's directory) and its placement."""
    written = m.get("file", read_text)
    resolved = os.path.abspath(os.path.join(m.doc.base_dir, written))
    problem = file_problem(resolved)
    if problem is not None:
        raise m.doc.error(_join(m.key, "file"), f"{_cannot_read(problem, 'mesh', written)} (looked for {resolved})")
    obj = read_obj_mesh(resolved)
    vertices, faces = obj.vertices, obj.faces
    m.doc.check(len(faces) <= MAX_TRIANGLES, _join(m.key, "file"),
                f"mesh file '{written}' has {len(faces)} triangles, more than the {MAX_TRIANGLES} the hit record "
                "can index (28 bits)")
    mesh = Mesh(
        name=name,
        file=resolved,
        file_as_written=written,
        vertices=vertices,
        faces=faces,
        scale=m.get("scale", read_scale, (1.0, 1.0, 1.0)),
        rotate=m.get("rotate", _read_rotation, Rotation()),
        translate=m.get("translate", read_point, (0.0, 0.0, 0.0)),
        albedo=albedo,
        texcoords=obj.texcoords,
        texcoord_faces=obj.texcoord_faces,
        normals=obj.normals,
        normal_faces=obj.normal_faces,
    )
    # a bound on the placed vertices' coordinates (a rotation keeps lengths; sqrt(3) for the diagonal)
    reach = float(np.max(np.abs(vertices))) * max(map(abs, mesh.scale)) * math.sqrt(3.0) + max(map(abs, mesh.translate))
    m.doc.check(reach <= MAX_LENGTH, _join(m.key, "file"),
                f"mesh file '{written}', scaled and placed, reaches coordinates of magnitude {reach:g}, beyond the "
                f"{MAX_LENGTH:g} a coordinate may have (squared distances must stay finite in float32)")
    m.doc.check(has_area(vertices, faces), _join(m.key, "file"),
                f"no face of mesh file '{written}' has an area ({len(faces)} face{'s' if len(faces) != 1 else ''}, "
                "each with repeated or collinear vertices); expected a surface")
    return mesh


# For each object type: its own keys (besides name, type and albedo) and its reader.
_OBJECT_TYPES: dict[str, tuple[tuple[str, ...], Callable[[_Mapping, str, Vec3], Object]]] = {
    "quad": (("origin", "edge1", "edge2"), _read_quad),
    "sphere": (("center", "radius"), _read_sphere),
    "mesh": (("file", "scale", "rotate", "translate"), _read_mesh),
}


def read_alpha(doc: _Doc, key: str, value: Any) -> float:
    """A microfacet roughness in [:data:`MIN_ALPHA`, :data:`MAX_ALPHA`]."""
    alpha = read_number(doc, key, value)
    doc.check(MIN_ALPHA <= alpha <= MAX_ALPHA, key,
              f"expected a roughness in [{MIN_ALPHA:g}, {MAX_ALPHA:g}], got {_show(value)}")
    return alpha


def read_ior(doc: _Doc, key: str, value: Any) -> Vec3:
    """A part of a complex index of refraction per channel: each in [0, :data:`MAX_IOR`]."""
    ior = read_colour(doc, key, value)
    doc.check(all(0.0 <= c <= MAX_IOR for c in ior), key, f"expected values in [0, {MAX_IOR:g}], got {_show(value)}")
    return ior


def read_dielectric_ior(doc: _Doc, key: str, value: Any) -> float:
    """A dielectric's index of refraction: a number in (0, :data:`MAX_IOR`] (Mitsuba's named values, such
    as ``polypropylene``, are not read: give the number)."""
    ior = read_number(doc, key, value)
    doc.check(0.0 < ior <= MAX_IOR, key, f"expected an index of refraction in (0, {MAX_IOR:g}], got {_show(value)}")
    return ior


def read_depth(doc: _Doc, key: str, value: Any) -> int:
    """A scene's ``max_depth``: an integer in [:data:`MIN_DEPTH`, :data:`MAX_DEPTH`]."""
    doc.check(isinstance(value, int) and not isinstance(value, bool) and MIN_DEPTH <= value <= MAX_DEPTH, key,
              f"expected an integer from {MIN_DEPTH} (direct light only) to {MAX_DEPTH}, got {_show(value)}")
    return value


def _read_conductor_colours(m: _Mapping, defaults) -> dict:
    """A conductor's specular_reflectance, eta and k (the defaults: Mitsuba's ``material: none``, a perfect
    reflector), as keyword arguments of its dataclass."""
    colours = {
        "specular_reflectance": m.get("specular_reflectance", read_reflectance, defaults.specular_reflectance),
        "eta": m.get("eta", read_ior, defaults.eta),
        "k": m.get("k", read_ior, defaults.k),
    }
    for channel, (eta, k) in enumerate(zip(colours["eta"], colours["k"])):
        # eta = k = 0 makes the Fresnel term 0 / 0 at normal incidence
        m.doc.check(eta > 0.0 or k > 0.0, _join(m.key, "k"),
                    f"expected eta or k above 0 in every channel, got both 0 in channel {channel}")
    return colours


def _read_roughconductor(m: _Mapping) -> RoughConductor:
    """A ``roughconductor``'s keys: GGX alpha, and the conductor's colours."""
    m.get("distribution", read_choice(("ggx",), "microfacet distribution"), "ggx")
    alpha = m.get("alpha", read_alpha, RoughConductor.alpha)
    return RoughConductor(alpha=alpha, **_read_conductor_colours(m, RoughConductor))


def _read_linear(doc: _Doc, key: str, value: Any) -> bool:
    """A ``roughplastic``'s ``nonlinear``: only Mitsuba's default, false, is modelled."""
    doc.check(value is False, key, f"expected false (the nonlinear diffuse base is not modelled), got {_show(value)}")
    return False


def _read_roughplastic(m: _Mapping) -> RoughPlastic:
    """A ``roughplastic``'s keys: GGX alpha, the diffuse and specular colours, and the two indices of
    refraction, which must differ (as Mitsuba requires); ``nonlinear`` may only be false."""
    m.get("distribution", read_choice(("ggx",), "microfacet distribution"), "ggx")
    m.get("nonlinear", _read_linear, False)
    plastic = RoughPlastic(
        alpha=m.get("alpha", read_alpha, RoughPlastic.alpha),
        diffuse_reflectance=m.get("diffuse_reflectance", read_reflectance, RoughPlastic.diffuse_reflectance),
        specular_reflectance=m.get("specular_reflectance", read_reflectance, RoughPlastic.specular_reflectance),
        int_ior=m.get("int_ior", read_dielectric_ior, RoughPlastic.int_ior),
        ext_ior=m.get("ext_ior", read_dielectric_ior, RoughPlastic.ext_ior),
    )
    m.doc.check(plastic.int_ior != plastic.ext_ior, _join(m.key, "int_ior"),
                f"expected int_ior to differ from ext_ior (both {plastic.int_ior:g}): the coating would not be there")
    return plastic


def _read_conductor(m: _Mapping) -> Conductor:
    """A smooth ``conductor``'s keys: specular_reflectance, eta and k."""
    return Conductor(**_read_conductor_colours(m, Conductor))


# For each material type: its own keys (besides type) and its reader.
_MATERIAL_TYPES: dict[str, tuple[tuple[str, ...], Callable[[_Mapping], Material]]] = {
    "roughconductor": (("distribution", "alpha", "specular_reflectance", "eta", "k"), _read_roughconductor),
    "conductor": (("specular_reflectance", "eta", "k"), _read_conductor),
    "roughplastic": (("distribution", "nonlinear", "alpha", "diffuse_reflectance", "specular_reflectance", "int_ior",
                      "ext_ior"), _read_roughplastic),
}


def _read_material(doc: _Doc, key: str, value: Any) -> Material:
    """An object's ``material``: its type decides which keys are allowed (a diffuse surface has none: it is
    the object's ``albedo``)."""
    m = _Mapping(doc, key, value, what=f"a mapping with a type ({', '.join(_MATERIAL_TYPES)}) and its keys")
    if value.get("type") == "diffuse":
        raise doc.error(_join(key, "type"), "a diffuse surface has no 'material': give the object's 'albedo'")
    kind = m.get("type", read_choice(tuple(_MATERIAL_TYPES), "material type"))
    fields, read = _MATERIAL_TYPES[kind]
    m.only(("type",) + fields, owner=f"a {kind}")
    return read(m)


def _read_object(doc: _Doc, key: str, value: Any, index: int) -> Object:
    """One entry of ``objects``: its type decides which keys are allowed and how they are read; its surface
    is diffuse with ``albedo``, or ``material``."""
    m = _Mapping(doc, key, value)
    kind = m.get("type", read_choice(tuple(_OBJECT_TYPES), "object type"))
    fields, read = _OBJECT_TYPES[kind]
    m.only(("name", "type", "albedo", "material") + fields, owner=f"a {kind}")
    name = m.get("name", read_name, f"{kind}{index}")
    material = m.get("material", _read_material, None)
    if material is not None and "albedo" in value:
        raise doc.error(_join(key, "albedo"), f"a {material.type} surface has no albedo (that is the diffuse "
                                              "surface's colour): give either 'albedo' or 'material', not both")
    obj = read(m, name, m.get("albedo", read_albedo_or_texture, (0.5, 0.5, 0.5)))
    return obj if material is None else replace(obj, material=material)


def _read_point_light(m: _Mapping, name: str) -> PointLight:
    """A point light's own keys: position, intensity (W/sr)."""
    return PointLight(name=name, position=m.get("position", read_point), intensity=m.get("intensity", read_intensity))


def _read_directional_light(m: _Mapping, name: str) -> DirectionalLight:
    """A directional light's own keys: direction (nonzero; made unit length), irradiance (W/m^2)."""
    direction = m.get("direction", read_direction)
    return DirectionalLight(name=name, direction=direction, irradiance=m.get("irradiance", read_irradiance))


# For each light type: its own keys (besides name and type) and its reader.
_LIGHT_TYPES: dict[str, tuple[tuple[str, ...], Callable[[_Mapping, str], Light]]] = {
    "point": (("position", "intensity"), _read_point_light),
    "directional": (("direction", "irradiance"), _read_directional_light),
}


def _read_light(doc: _Doc, key: str, value: Any, index: int) -> Light:
    """One entry of ``lights``: its type decides which keys are allowed and how they are read."""
    m = _Mapping(doc, key, value)
    kind = m.get("type", read_choice(tuple(_LIGHT_TYPES), "light type"))
    fields, read = _LIGHT_TYPES[kind]
    m.only(("name", "type") + fields, owner=f"a {kind} light")
    return read(m, m.get("name", read_name, f"{kind}{index}"))


def _check_unique_names(doc: _Doc, key: str, elements: list, what: str) -> None:
    """Reject a second light or object with the name of an earlier one."""
    first: dict[str, int] = {}
    for i, element in enumerate(elements):
        if element.name in first:
            also = _join(key, first[element.name])
            raise doc.error(_join(_join(key, i), "name"),
                            f"duplicate {what} name '{element.name}' (also {also}); expected unique names",
                            fallback=_join(key, i))
        first[element.name] = i


def _read_objects(doc: _Doc, key: str, value: Any) -> tuple[Object, ...]:
    """The ``objects`` section: a non-empty list with unique names."""
    items = read_list("objects")(doc, key, value)
    objects = [_read_object(doc, _join(key, i), item, i) for i, item in enumerate(items)]
    _check_unique_names(doc, key, objects, "object")
    return tuple(objects)


def _read_lights(doc: _Doc, key: str, value: Any) -> tuple[Light, ...]:
    """The ``lights`` section: a non-empty list with unique names, at most :data:`MAX_LIGHTS`."""
    items = read_list("lights")(doc, key, value)
    doc.check(len(items) <= MAX_LIGHTS, key, f"expected at most {MAX_LIGHTS} lights, got {len(items)}")
    lights = [_read_light(doc, _join(key, i), item, i) for i, item in enumerate(items)]
    _check_unique_names(doc, key, lights, "light")
    return tuple(lights)


def _read_free_parameter(doc: _Doc, key: str, value: Any, path: str) -> FreeParameter:
    """The options of one ``optimize`` entry: null, or a mapping with optional lr, min and max."""
    if value is None:
        return FreeParameter(path)
    m = _Mapping(doc, key, value, what="a mapping with optional lr, min, max (or {})")
    m.only(("lr", "min", "max"))
    return FreeParameter(path, lr=m.get("lr", read_number, None), min=m.get("min", read_number, None),
                         max=m.get("max", read_number, None))


def _read_optimize(doc: _Doc, key: str, value: Any) -> tuple[FreeParameter, ...]:
    """The ``optimize`` section (checked against the scene later, by ``resolve``)."""
    if value is None:
        return ()
    m = _Mapping(doc, key, value, what="a mapping of dotted paths (lights.<name>.position: {lr: 0.05})")
    return tuple(_read_free_parameter(doc, _join(key, path), options, path) for path, options in m.value.items())


# --------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------


def _relative(path: str, start: str) -> str:
    """``path`` relative to ``start``, or absolute where no relative path exists (another drive)."""
    try:
        return os.path.relpath(path, start)
    except ValueError:
        return os.path.abspath(path)
