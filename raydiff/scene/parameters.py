"""The parameter table: every numeric value of a scene that the renderer reads, declared once.

Like Mitsuba 3's ``mi.traverse``, one registry names every differentiable value of a scene by a dotted
path, and everything else follows from it:

- the device's *pool* lays out, element by element, one entry per :class:`Kind` that applies to the
  element's type, in the order of :data:`KINDS` (:func:`entries`);
- ``optimize`` entries are checked against it and given bounds and a default learning rate
  (:func:`resolve`);
- fitted values go back into a :class:`~raydiff.scene.Scene` (:func:`with_values`) and into the YAML
  document (:func:`write_into_document`, for ``fitted.yaml``); history columns and truth values use the
  same paths.

Paths
-----
``lights.<name>.<field>``, ``objects.<name>.<field>``, ``cameras.<name>.<field>`` for a scene with
``cameras:``, and ``camera.<field>`` for a scene with a single ``camera:``. A field may be nested:
``objects.box.rotate.angle``. :func:`parse_path` is the one parser.

Adding a parameter kind is one :class:`Kind` here (and the kernel code that reads it from the pool).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from ..errors import Location, SceneError
from .model import FreeParameter, Scene, Texture, is_texture, material_type
from .limits import MAX_ALPHA, MIN_ALPHA
from .placement import mesh_bounds

GROUPS = ("cameras", "objects", "lights")


@dataclass(frozen=True)
class Kind:
    """One kind of scene parameter.

    Parameters
    ----------
    group : {"cameras", "objects", "lights"}
        Where the elements that have it are listed.
    field : str
        The key inside the element, dotted when nested (``"rotate.angle"`` is ``rotate: {angle: ...}``).
    size : int
        Number of scalar components.
    types : tuple of str
        The element types that have it (``Camera.type``, ``Sphere.type``, ``PointLight.type`` ...).
    materials : tuple of str
        For objects: the material types (:func:`raydiff.scene.model.material_type`) that have it, every one
        if empty (a sphere's ``center``). ``albedo`` is the ``diffuse`` material's; ``material.alpha`` a
        ``roughconductor``'s.
    device_group : str
        The pool group the kernels read it through (see :meth:`raydiff.device.scene.DeviceScene.source`):
        a group with nothing free is read from a gradient-free mirror.
    lr : float
        Default learning rate (Adam's step, in the parameter's units per iteration), before ``lr_scale``.
    lr_scale : {"none", "scene", "value"}
        ``"scene"``: ``lr`` times the scene's size (:func:`scene_size`), for positions; ``"value"``:
        ``lr`` times the largest absolute starting component (at least 1e-3 of the scene's size for
        lengths, 1 otherwise), for sizes and brightness; ``"none"``: ``lr`` as it is (angles in degrees,
        albedos).
    lower, upper : float
        Bounds, projected after every optimiser step.
    unit : bool
        The value is a direction: it is kept unit length (normalised after every step).
    keep_sign : bool
        Each component stays on the side of zero it starts on, at least ``1e-3`` of its starting
        magnitude away (a radius stays positive, a scale never flips or collapses).
    free : bool
        False for values the kernels read from the pool that cannot be freed (a camera's ``up``).
    fixed_for : tuple of str
        Material types for which this (otherwise free) kind is in the pool but cannot be freed: a
        ``roughplastic``'s ``material.alpha``, on which the tables computed when its scene is built depend.
    doc : str
        One line for the documentation.
    """

    group: str
    field: str
    size: int
    types: tuple[str, ...]
    device_group: str
    lr: float = 0.0
    lr_scale: str = "none"
    lower: float = -math.inf
    upper: float = math.inf
    unit: bool = False
    keep_sign: bool = False
    free: bool = True
    doc: str = ""
    materials: tuple[str, ...] = ()
    fixed_for: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()

    @property
    def texture(self) -> bool:
        """Whether this is an element's texture (``albedo: {texture: ...}``): ``size`` texels' channels,
        ``shape`` (height, width, 3), made for that element by :func:`kinds_for`."""
        return bool(self.shape)

    def applies(self, type_: str, material: str = "diffuse") -> bool:
        """Whether an element of ``type_`` (with a surface of ``material``, for objects) has this kind."""
        return type_ in self.types and (not self.materials or material in self.materials)

    def free_for(self, material: str) -> bool:
        """Whether this kind may be freed on a surface of ``material`` (see ``free`` and ``fixed_for``)."""
        return self.free and material not in self.fixed_for

    def read(self, element) -> np.ndarray:
        """This parameter's value in ``element`` (a light, object or camera), float64 of shape (size,)."""
        value = element
        for part in self.field.split("."):
            value = getattr(value, part)
        if is_texture(value):
            value = value.texels
        return np.asarray(value, dtype=np.float64).reshape(self.size)


_ANALYTIC = ("sphere", "quad", "mesh")
_CONDUCTORS = ("roughconductor", "conductor")
#: The materials with a GGX roughness and with a specular colour.
_ROUGH = ("roughconductor", "roughplastic")
_SPECULAR = _CONDUCTORS + ("roughplastic",)

#: Every parameter kind, in pool order within an element.
KINDS: tuple[Kind, ...] = (
    # --- cameras ----------------------------------------------------------------------------------------
    Kind("cameras", "position", 3, ("perspective",), "camera", 0.005, "scene",
         doc="where the camera stands"),
    Kind("cameras", "look_at", 3, ("perspective",), "camera", 0.005, "scene",
         doc="the point it looks at"),
    Kind("cameras", "up", 3, ("perspective",), "camera", free=False),
    # fov: 1 degree an iteration (0.5 before issue 10: a camera's pose then took 122 iterations to 0.5%, now 42;
    # benchmarks/convergence.py)
    Kind("cameras", "fov", 1, ("perspective",), "camera", 1.0, lower=0.1, upper=179.0,
         doc="horizontal field of view, degrees, in (0, 180)"),
    # --- objects ----------------------------------------------------------------------------------------
    Kind("objects", "albedo", 3, _ANALYTIC, "albedo", 0.02, lower=0.0, upper=1.0, materials=("diffuse",),
         doc="diffuse reflectance, in [0, 1]"),
    # a conductor's block (kernels/materials/roughconductor.py and conductor.py read it in this order; the
    # smooth conductor has no alpha), and a rough plastic's (kernels/materials/roughplastic.py: alpha,
    # specular_reflectance, diffuse_reflectance, int_ior, ext_ior; its alpha is fixed: the tables of
    # raydiff/device/plastic_tables.py depend on it)
    Kind("objects", "material.alpha", 1, _ANALYTIC, "material", 0.01, lower=MIN_ALPHA, upper=MAX_ALPHA,
         materials=_ROUGH, fixed_for=("roughplastic",),
         doc=f"GGX roughness, in [{MIN_ALPHA:g}, {MAX_ALPHA:g}] (a roughconductor's)"),
    Kind("objects", "material.specular_reflectance", 3, _ANALYTIC, "material", 0.02, lower=0.0, upper=1.0,
         materials=_SPECULAR, doc="the colour multiplying the Fresnel term, in [0, 1]"),
    Kind("objects", "material.diffuse_reflectance", 3, _ANALYTIC, "material", 0.02, lower=0.0, upper=1.0,
         materials=("roughplastic",), doc="a rough plastic's diffuse base colour, in [0, 1]"),
    Kind("objects", "material.eta", 3, _ANALYTIC, "material", materials=_CONDUCTORS, free=False),
    Kind("objects", "material.k", 3, _ANALYTIC, "material", materials=_CONDUCTORS, free=False),
    Kind("objects", "material.int_ior", 1, _ANALYTIC, "material", materials=("roughplastic",), free=False),
    Kind("objects", "material.ext_ior", 1, _ANALYTIC, "material", materials=("roughplastic",), free=False),
    Kind("objects", "center", 3, ("sphere",), "geometry", 0.003, "scene", doc="a sphere's centre"),
    Kind("objects", "radius", 1, ("sphere",), "geometry", 0.01, "value", keep_sign=True,
         doc="a sphere's radius, > 0"),
    Kind("objects", "origin", 3, ("quad",), "geometry", 0.003, "scene", doc="a quad's corner"),
    Kind("objects", "edge1", 3, ("quad",), "geometry", 0.01, "value", doc="a quad's first edge"),
    Kind("objects", "edge2", 3, ("quad",), "geometry", 0.01, "value", doc="a quad's second edge"),
    Kind("objects", "scale", 3, ("mesh",), "geometry", 0.01, "value", keep_sign=True,
         doc="a mesh's scale per axis (never flips or reaches 0)"),
    Kind("objects", "rotate.axis", 3, ("mesh",), "geometry", 0.01, unit=True,
         doc="a mesh's rotation axis (kept unit length)"),
    Kind("objects", "rotate.angle", 1, ("mesh",), "geometry", 0.5, doc="a mesh's rotation angle, degrees"),
    Kind("objects", "translate", 3, ("mesh",), "geometry", 0.003, "scene", doc="a mesh's offset"),
    # --- lights -----------------------------------------------------------------------------------------
    Kind("lights", "position", 3, ("point",), "light", 0.005, "scene", doc="a point light's position"),
    Kind("lights", "intensity", 3, ("point",), "light_power", 0.05, "value", lower=0.0,
         doc="a point light's intensity, W/sr, >= 0"),
    Kind("lights", "direction", 3, ("directional",), "light", 0.01, unit=True,
         doc="the way a directional light travels (kept unit length)"),
    Kind("lights", "irradiance", 3, ("directional",), "light_power", 0.05, "value", lower=0.0,
         doc="a directional light's irradiance, W/m^2, >= 0"),
)

DEVICE_GROUPS = tuple(dict.fromkeys(k.device_group for k in KINDS))


def kinds_of(group: str, type_: str, material: str = "diffuse") -> list[Kind]:
    """The kinds an element of ``type_`` in ``group`` has, in pool order (for an object, with a surface of
    ``material``)."""
    return [k for k in KINDS if k.group == group and k.applies(type_, material)]


def find_kind(group: str, type_: str, field: str, material: str = "diffuse") -> Kind | None:
    return next((k for k in kinds_of(group, type_, material) if k.field == field), None)


def kinds_for(group: str, element) -> list[Kind]:
    """The kinds ``element`` (a camera, light or object of ``group``) has, in pool order. A textured
    ``albedo`` is the table's kind sized to the element's texture (every texel's channels, in the
    image's row order: ``Kind.shape``)."""
    kinds = kinds_of(group, element.type, material_type(element))
    return [_textured(k, element) for k in kinds]


def _textured(kind: Kind, element) -> Kind:
    """``kind``, or for an element whose value there is a texture, that kind with the texture's size."""
    if kind.field != "albedo" or not is_texture(getattr(element, "albedo", None)):
        return kind
    texels = element.albedo.texels
    return replace(kind, size=int(texels.size), shape=tuple(texels.shape),
                   doc="a texture's texels (linear RGB in [0, 1]), every one free")


def kind_for(group: str, element, field: str) -> Kind | None:
    """``element``'s kind at ``field``, or None."""
    return next((k for k in kinds_for(group, element) if k.field == field), None)


def type_name(group: str, element) -> str:
    """How messages name ``element``'s type: ``sphere``, ``roughconductor sphere``, ``point light``."""
    if group == "objects" and material_type(element) != "diffuse":
        return f"{material_type(element)} {element.type}"
    return element.type


# ========================================================================================================
# Paths
# ========================================================================================================


@dataclass(frozen=True)
class Path:
    """A parsed dotted path: the group, the element's name and the (possibly nested) field."""

    group: str
    name: str
    field: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.group, self.name, self.field


def elements(scene: Scene, group: str) -> tuple:
    """The cameras, objects or lights of ``scene``."""
    return {"cameras": scene.cameras, "objects": scene.objects, "lights": scene.lights}[group]


def canonical_path(scene: Scene, key: tuple[str, str, str]) -> str:
    """The dotted path a user writes for ``(group, name, field)``: ``camera.fov`` for a single camera."""
    group, name, field = key
    if group == "cameras" and not scene.several_views:
        return f"camera.{field}"
    return f"{group}.{name}.{field}"


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_path(scene: Scene, path: str, where: Location) -> Path:
    """Split a dotted path and check that it names an element of ``scene`` (not yet its field).

    Raises
    ------
    SceneError
        For a malformed path or an unknown element name (with the nearest name suggested).
    """
    parts = path.split(".")
    expected = ("expected a path 'lights.<name>.<field>', 'objects.<name>.<field>', 'camera.<field>' or "
                "'cameras.<name>.<field>'")
    if parts[0] == "camera" and len(parts) >= 2 and all(parts):
        if scene.several_views:
            names = ", ".join(c.name for c in scene.cameras)
            raise SceneError(where, f"this scene lists several cameras ({names}): name one, "
                                    f"'cameras.<name>.{'.'.join(parts[1:])}'")
        return Path("cameras", scene.camera.name, ".".join(parts[1:]))
    if len(parts) < 3 or parts[0] not in GROUPS or not all(parts):
        raise SceneError(where, expected)
    group, name, field = parts[0], parts[1], ".".join(parts[2:])
    if group == "cameras" and not scene.several_views:
        raise SceneError(where, f"this scene has one camera: write 'camera.{field}'")
    names = [e.name for e in elements(scene, group)]
    if name not in names:
        raise SceneError(where, f"no {group[:-1]} named '{name}'{_suggest(name, names)}")
    return Path(group, name, field)


# ========================================================================================================
# Resolving `optimize` entries
# ========================================================================================================


#: A free texture's columns in a fit's history: its mean per RGB channel (a texture has hundreds of
#: thousands of scalars; the history, the progress and the plots show the summary, the output folder the
#: image).
TEXTURE_SUMMARY = 3


@dataclass(frozen=True)
class Resolved:
    """A free parameter resolved against a scene: its kind, start value, learning rate and bounds.

    ``path`` is the path as the user wrote it (history columns, params.json); ``key`` is
    ``(group, name, field)``. ``lower`` and ``upper`` hold one bound per component.
    """

    path: str
    kind: Kind
    element: str  # the camera's, light's or object's name
    start: np.ndarray  # float64, shape (kind.size,)
    lr: float
    lower: np.ndarray
    upper: np.ndarray

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind.group, self.element, self.kind.field

    def component_names(self) -> list[str]:
        """Column names for history.csv: ``lights.key.position[0]`` ... A texture is summarised, not
        listed texel by texel: its mean per channel, ``objects.wall.albedo.mean[0]`` ... (see
        :data:`TEXTURE_SUMMARY`)."""
        if self.kind.texture:
            return [f"{self.path}.mean[{c}]" for c in range(TEXTURE_SUMMARY)]
        return [f"{self.path}[{i}]" for i in range(self.kind.size)]


def scene_size(scene: Scene) -> float:
    """The diagonal of the box around every camera, light position and object: the scale of the scene's
    lengths (default learning rates, ray offsets). Meshes count by their placed vertices."""
    pts = [np.array(c.position) for c in scene.cameras]
    pts += [np.array(light.position) for light in scene.lights if hasattr(light, "position")]
    for obj in scene.objects:
        if obj.type == "sphere":
            pts += [np.array(obj.center) - obj.radius, np.array(obj.center) + obj.radius]
        elif obj.type == "quad":
            o, e1, e2 = (np.array(v) for v in (obj.origin, obj.edge1, obj.edge2))
            pts += [o, o + e1, o + e2, o + e1 + e2]
        elif obj.type == "mesh":
            bounds = mesh_bounds(obj)
            if bounds is not None:
                pts += list(bounds)
    pts = np.array(pts)
    return float(max(np.linalg.norm(pts.max(0) - pts.min(0)), 1e-3))


def default_lr(kind: Kind, start: np.ndarray, size: float) -> float:
    """The learning rate a kind gets when the scene names none (see :class:`Kind`)."""
    if kind.lr_scale == "scene":
        return kind.lr * size
    if kind.lr_scale == "value":
        floor = 1e-3 * size if kind.device_group == "geometry" else 1.0
        return kind.lr * max(floor, float(np.max(np.abs(start))))
    return kind.lr


def default_bounds(kind: Kind, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-component bounds that keep the scene valid (see :class:`Kind`)."""
    lower = np.full(kind.size, kind.lower)
    upper = np.full(kind.size, kind.upper)
    if kind.keep_sign:
        margin = 1e-3 * np.abs(start)
        lower = np.where(start > 0, np.maximum(lower, margin), lower)
        upper = np.where(start < 0, np.minimum(upper, -margin), upper)
    return lower, upper


def resolve(scene: Scene, entry: FreeParameter, location: Location | None = None, size: float | None = None) -> Resolved:
    """Check one ``optimize`` entry against the scene and the table.

    Parameters
    ----------
    scene : Scene
    entry : FreeParameter
    location : Location, optional
        Where errors point (default: ``optimize.<path>`` in the scene's file).
    size : float, optional
        The scene's size (:func:`scene_size`), if the caller has it already.

    Raises
    ------
    SceneError
        For a malformed path, an unknown name, a field that cannot be freed, or inconsistent bounds or
        learning rate; the message names the path and suggests the nearest valid one.
    """
    where = location or Location(scene.source, f"optimize.{entry.path}")
    path = parse_path(scene, entry.path, where)
    element = next(e for e in elements(scene, path.group) if e.name == path.name)
    kind = kind_for(path.group, element, path.field)
    material = material_type(element) if path.group == "objects" else "diffuse"
    fields = [k.field for k in kinds_for(path.group, element) if k.free_for(material)]
    if kind is None or not kind.free_for(material):
        what = "camera" if path.group == "cameras" else type_name(path.group, element)
        raise SceneError(
            where,
            f"'{path.field}' of a {what} cannot be optimised{_suggest(path.field, fields)}; "
            f"free fields: {', '.join(fields)}",
        )
    start = kind.read(element)
    lr = entry.lr
    if lr is None:
        lr = default_lr(kind, start, scene_size(scene) if size is None else size)
    if not lr > 0 or not math.isfinite(lr):
        raise SceneError(where, f"lr must be a positive number, got {lr}")
    lower, upper = default_bounds(kind, start)
    if entry.min is not None:
        lower = np.maximum(lower, entry.min)
    if entry.max is not None:
        upper = np.minimum(upper, entry.max)
    if np.any(lower > upper):
        i = int(np.argmax(lower > upper))
        raise SceneError(where, f"min ({lower[i]:g}) is above max ({upper[i]:g})")
    return Resolved(entry.path, kind, path.name, start, float(lr), lower, upper)


def resolve_all(scene: Scene) -> list[Resolved]:
    """Resolve every ``optimize`` entry of ``scene``, in file order."""
    size = scene_size(scene) if scene.optimize else 1.0
    return [resolve(scene, entry, size=size) for entry in scene.optimize]


# ========================================================================================================
# The pool's entries, and values back into a scene
# ========================================================================================================


def entries(scene: Scene) -> Iterator[tuple[tuple[str, str, str], Kind, np.ndarray]]:
    """Every parameter of ``scene`` in pool order: ``((group, name, field), kind, value)``."""
    for group in GROUPS:
        for element in elements(scene, group):
            for kind in kinds_for(group, element):
                yield (group, element.name, kind.field), kind, kind.read(element)


def _set_field(element, field: str, value):
    head, _, rest = field.partition(".")
    if rest:
        return replace(element, **{head: _set_field(getattr(element, head), rest, value)})
    return replace(element, **{head: value})


def _as_value(kind: Kind, value) -> float | tuple[float, ...]:
    flat = tuple(float(x) for x in np.asarray(value, dtype=np.float64).reshape(kind.size))
    return flat[0] if kind.size == 1 else flat


def with_values(scene: Scene, values: dict[str, np.ndarray]) -> Scene:
    """A copy of ``scene`` with the parameters at the given dotted paths replaced.

    Raises
    ------
    SceneError
        If a path does not name a parameter of the scene.
    """
    groups = {g: list(elements(scene, g)) for g in GROUPS}
    for text, value in values.items():
        where = Location(scene.source, text)
        path = parse_path(scene, text, where)
        items = groups[path.group]
        i = next(i for i, e in enumerate(items) if e.name == path.name)
        kind = kind_for(path.group, items[i], path.field)
        if kind is None:
            raise SceneError(where, f"'{path.field}' is not a parameter of {path.group[:-1]} '{path.name}'")
        if kind.texture:  # a texture's texels: a new image, no file until one is written
            new = Texture(np.asarray(value, dtype=np.float32).reshape(kind.shape).copy())
        else:
            new = _as_value(kind, value)
        items[i] = _set_field(items[i], path.field, new)
    out = replace(scene, objects=tuple(groups["objects"]), lights=tuple(groups["lights"]))
    return out.with_cameras(groups["cameras"])


def write_into_document(scene: Scene, document: dict, text: str, value) -> None:
    """Set the value at dotted path ``text`` in ``document`` (the scene's parsed YAML) to ``value``.

    Nested fields create their mapping where the file left it out (``rotate: {angle: ...}``).

    Raises
    ------
    ValueError
        If the path does not name a parameter of the scene.
    """
    try:
        path = parse_path(scene, text, Location(scene.source, text))
    except SceneError as err:
        raise ValueError(err.message) from None
    if path.group == "cameras" and not scene.several_views:
        node = document["camera"]
        element = scene.camera
    else:
        index = next(i for i, e in enumerate(elements(scene, path.group)) if e.name == path.name)
        node = document[path.group][index]
        element = elements(scene, path.group)[index]
    kind = kind_for(path.group, element, path.field)
    if kind is None:
        raise ValueError(f"'{path.field}' is not a parameter of {path.group[:-1]} '{path.name}'")
    *parents, leaf = path.field.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if kind.texture:
        if not isinstance(value, str):
            raise ValueError(f"texture '{text}' is written as an image file: give its path, not its texels")
        node[leaf] = {"texture": value}
        return
    converted = _as_value(kind, value)
    node[leaf] = list(converted) if isinstance(converted, tuple) else converted
