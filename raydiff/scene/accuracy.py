"""How far fitted values are from the true ones, each parameter in the units its goal is stated in.

* lengths that are places (a light's or camera's position, a sphere's centre, a quad's corner, a mesh's
  translation): the distance, in % of the true scene's size (:func:`raydiff.scene.parameters.scene_size`);
* a field of view, a rotation angle alone: degrees;
* a mesh's rotation (its axis and angle together): the angle of the rotation between the fitted and the
  true one, degrees;
* a direction (a directional light's, a rotation axis alone): the angle between them, degrees;
* sizes (a radius, a scale, a quad's edges): relative error, %; colours and brightness (albedo, a
  specular reflectance, intensity, irradiance) and a roughness: the largest relative error of a channel, %.

Each error comes with its goal: 1% of the scene's size, 1% relative, 0.5 degree of fov, 1 degree of
rotation or direction. ``benchmarks/recovery.py`` and ``raydiff recover`` measure with these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .model import Rotation
from .placement import rotation_matrix

PLACES = ("position", "look_at", "center", "origin", "translate")
SIZES = ("radius", "scale", "edge1", "edge2")
DIRECTIONS = ("direction", "rotate.axis")


@dataclass(frozen=True)
class Error:
    """One parameter's error: ``value`` in ``unit``, and the ``goal`` it should be within."""

    value: float
    unit: str
    goal: float

    @property
    def within(self) -> bool:
        return math.isfinite(self.value) and self.value <= self.goal


def angle_between(a, b) -> float:
    """Degrees between two vectors."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


def rotation_error(axis, angle, true_axis, true_angle) -> float:
    """Degrees of the rotation that takes one rotation (axis, angle in degrees) to the other."""
    r = rotation_matrix(Rotation(tuple(axis), float(angle))).T @ rotation_matrix(Rotation(tuple(true_axis), float(true_angle)))
    return math.degrees(math.acos(min(1.0, max(-1.0, (np.trace(r) - 1.0) / 2.0))))


def field_of(path: str) -> str:
    """The field a dotted path names: ``lights.key.position`` -> ``position``, ``camera.fov`` -> ``fov``,
    ``objects.bunny.rotate.axis`` -> ``rotate.axis``."""
    parts = path.split(".")
    return ".".join(parts[1:] if parts[0] == "camera" else parts[2:])


def errors(values: dict, truth: dict, size: float) -> dict[str, Error]:
    """Each free parameter's error against ``truth`` (values keyed by dotted path; ``size`` the true
    scene's size); a mesh's rotation axis and angle are one entry, ``objects.<name>.rotation``, when both
    are free (its axis alone or its angle alone stays its own)."""
    out = {}
    for path, value in values.items():
        field, want = field_of(path), np.asarray(truth[path], dtype=np.float64)
        value = np.asarray(value, dtype=np.float64)
        if field.startswith("rotate."):
            head = path[: -len(field)]
            axis, angle = head + "rotate.axis", head + "rotate.angle"
            if axis in values and angle in values:
                out[head + "rotation"] = Error(rotation_error(values[axis], np.ravel(values[angle])[0], truth[axis],
                                                              np.ravel(truth[angle])[0]), "degrees", 1.0)
                continue
        if field in PLACES:
            out[path] = Error(100 * float(np.linalg.norm(value - want)) / size, "% of the scene's size", 1.0)
        elif field in DIRECTIONS:
            out[path] = Error(angle_between(value, want), "degrees", 1.0)
        elif field in ("fov", "rotate.angle"):
            out[path] = Error(float(abs(value.ravel()[0] - want.ravel()[0])), "degrees", 0.5 if field == "fov" else 1.0)
        elif field in SIZES:
            out[path] = Error(100 * float(np.linalg.norm(value - want) / np.linalg.norm(want)), "% (relative)", 1.0)
        else:  # albedo, specular reflectance, roughness, intensity, irradiance
            out[path] = Error(100 * float(np.max(np.abs(value - want) / np.maximum(np.abs(want), 1e-6))),
                              "% (largest channel)", 1.0)
    return out
