"""Lights as pieces: one module per light type, each building two ``ti.func``s for one light of a scene.

A piece is a :class:`Light` with

- ``towards(p) -> (wi, distance)``: the unit direction from ``p`` to the light and how far a shadow ray
  must go (a large number for lights at infinity). The visibility pass (never differentiated) traces it.
- ``irradiance(p, n) -> vec3``: the light's irradiance at ``p`` on a surface with normal ``n``, as if
  unoccluded (zero from behind). The shading pass differentiates it: straight-line code only.

A new light type is a new module with a ``make(dev, offset)`` and a line in :data:`LIGHT_TYPES`; the
integrator does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import directional, point


@dataclass(frozen=True)
class Light:
    """The two functions of one light (see the module's docstring)."""

    towards: Callable
    irradiance: Callable


LIGHT_TYPES = {"point": point.make, "directional": directional.make}


def make_lights(dev) -> list[Light]:
    """One :class:`Light` per light of ``dev``'s scene, in order (light ``l`` is bit ``l`` of the mask)."""
    return [Light(*LIGHT_TYPES[type_](dev, offset)) for type_, offset in dev.lights]
