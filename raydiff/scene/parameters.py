"""The table of what `raydiff fit` can free: dotted paths, sizes, bounds and default learning rates.

A free parameter is named by a dotted path, ``lights.<name>.<field>`` or ``objects.<name>.<field>``. This
module owns which fields may be freed, their bounds (projected after every optimiser step) and their
default learning rates, and it reads and replaces those values in a :class:`raydiff.scene.Scene`.

Adding a parameter kind touches three places: this table, the scene description (its key) and the shading
code that reads it.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import Location, SceneError
from .model import FreeParameter, Scene


@dataclass(frozen=True)
class Kind:
    """One kind of free parameter.

    Parameters
    ----------
    group : str
        ``"lights"`` or ``"objects"``.
    field : str
        The key inside the light or object, e.g. ``"position"``.
    size : int
        Number of scalar components.
    types : tuple of str
        The light or object types that have this field.
    lr : float
        Default learning rate (Adam's step size, in the parameter's units per iteration).
    relative_lr : bool
        If true, the default learning rate is ``lr`` times the largest absolute starting component (at
        least 1), so that intensities of 1 and of 1000 converge alike.
    lower, upper : float
        Default bounds; every optimiser step projects onto them.
    """

    group: str
    field: str
    size: int
    types: tuple[str, ...]
    lr: float
    relative_lr: bool = False
    lower: float = -math.inf
    upper: float = math.inf


KINDS: dict[tuple[str, str], Kind] = {
    ("lights", "position"): Kind("lights", "position", 3, ("point",), lr=0.05),
    ("lights", "intensity"): Kind("lights", "intensity", 3, ("point",), lr=0.05, relative_lr=True, lower=0.0),
    ("objects", "albedo"): Kind("objects", "albedo", 3, ("sphere", "quad", "mesh"), lr=0.02, lower=0.0, upper=1.0),
}


@dataclass(frozen=True)
class Resolved:
    """A free parameter resolved against a scene: its kind, start value, learning rate and bounds."""

    path: str
    kind: Kind
    element: str  # the light's or object's name
    start: np.ndarray  # float64, shape (kind.size,)
    lr: float
    lower: float
    upper: float

    def component_names(self) -> list[str]:
        """Column names for history.csv: ``lights.key.position[0]`` ..."""
        return [f"{self.path}[{i}]" for i in range(self.kind.size)]


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _elements(scene: Scene, group: str):
    return scene.lights if group == "lights" else scene.objects


def resolve(scene: Scene, entry: FreeParameter, location: Location | None = None) -> Resolved:
    """Check one ``optimize`` entry against the scene and the table.

    Raises
    ------
    SceneError
        For a malformed path, an unknown light or object name, a field that cannot be freed, or
        inconsistent bounds; the message names the path and suggests the nearest valid one.
    """
    where = location or Location(scene.source, f"optimize.{entry.path}")
    parts = entry.path.split(".")
    if len(parts) != 3 or parts[0] not in ("lights", "objects"):
        raise SceneError(where, "expected a path 'lights.<name>.<field>' or 'objects.<name>.<field>'")
    group, name, field_name = parts
    elements = {e.name: e for e in _elements(scene, group)}
    if name not in elements:
        raise SceneError(where, f"no {group[:-1]} named '{name}'{_suggest(name, elements)}")
    element = elements[name]
    fields = [k.field for k in KINDS.values() if k.group == group and element.type in k.types]
    kind = KINDS.get((group, field_name))
    if kind is None or element.type not in kind.types:
        raise SceneError(
            where,
            f"'{field_name}' of a {element.type} cannot be optimised{_suggest(field_name, fields)}; "
            f"free fields: {', '.join(fields)}",
        )
    start = np.asarray(getattr(element, field_name), dtype=np.float64).reshape(kind.size)
    lr = entry.lr
    if lr is None:
        lr = kind.lr * (max(1.0, float(np.max(np.abs(start)))) if kind.relative_lr else 1.0)
    lower = kind.lower if entry.min is None else max(kind.lower, entry.min)
    upper = kind.upper if entry.max is None else min(kind.upper, entry.max)
    if not lr > 0 or not math.isfinite(lr):
        raise SceneError(where, f"lr must be a positive number, got {lr}")
    if lower > upper:
        raise SceneError(where, f"min ({lower}) is above max ({upper})")
    return Resolved(entry.path, kind, name, start, float(lr), float(lower), float(upper))


def resolve_all(scene: Scene) -> list[Resolved]:
    """Resolve every ``optimize`` entry of ``scene``, in file order."""
    return [resolve(scene, entry) for entry in scene.optimize]


def with_values(scene: Scene, values: dict[str, np.ndarray]) -> Scene:
    """A copy of ``scene`` with the parameters at the given dotted paths replaced."""
    lights = list(scene.lights)
    objects = list(scene.objects)
    for path, value in values.items():
        group, name, field_name = path.split(".")
        kind = KINDS[(group, field_name)]
        v = tuple(float(x) for x in np.asarray(value, dtype=np.float64).reshape(kind.size))
        items = lights if group == "lights" else objects
        i = next(i for i, e in enumerate(items) if e.name == name)
        items[i] = replace(items[i], **{field_name: v})
    return replace(scene, lights=tuple(lights), objects=tuple(objects))
