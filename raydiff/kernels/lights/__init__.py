"""Lights as pieces: one module per light type, each building two ``ti.func``s for one light of a scene.

A piece is a :class:`Light` with

- ``towards(p) -> (wi, distance)``: the unit direction from ``p`` to the light and how far a shadow ray
  must go (a large number for lights at infinity). The visibility pass (never differentiated) traces it.
- ``irradiance(p, n) -> vec3``: the light's irradiance at ``p`` on a surface with normal ``n``, as if
  unoccluded (zero from behind). The shading pass differentiates it: straight-line code only.

The visibility pass, which is not differentiated, loops over the lights *at run time*
(:func:`make_towards_any`), so that its code (and its compile time, dominated by the shadow ray's BVH
walk) does not grow with the number of lights; each module therefore also has a
``make_towards(dev) -> towards(offset, p)`` taking the pool offset as a run-time value. So do the forward
pass's shading (fused into the visibility kernel) and the boundary terms' side rays, through
``make_irradiance(dev) -> irradiance(offset, p, n)`` (:func:`make_irradiance_any`). The differentiated
shading pass keeps one unrolled piece per light: Taichi differentiates a loop that carries locals only
through an adstack, which Vulkan lacks, and its pieces read the free scalars at offsets fixed when it
is compiled (:mod:`raydiff.device.fixed_reads`).

A new light type is a new module with ``make(dev, offset)``, ``make_towards(dev)`` and
``make_irradiance(dev)`` and a line in :data:`LIGHT_TYPES`; the integrator does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import taichi as ti

from . import directional, point


@dataclass(frozen=True)
class Light:
    """The two functions of one light (see the module's docstring)."""

    towards: Callable
    irradiance: Callable


LIGHT_TYPES = {"point": point, "directional": directional}


def make_lights(dev) -> list[Light]:
    """One :class:`Light` per light of ``dev``'s scene, in order (light ``l`` is bit ``l`` of the mask)."""
    return [Light(*LIGHT_TYPES[type_].make(dev, offset)) for type_, offset in dev.lights]


def _layout(dev):
    """``(first, types, bits)``: the first light's pool offset, the light types the scene has, and per type
    the bit mask of the lights of that type (see :func:`make_towards_any`)."""
    offsets = [offset for _, offset in dev.lights]
    first = offsets[0] if offsets else 0
    assert offsets == [first + 6 * i for i in range(len(offsets))], "lights are not consecutive in the pool"
    types = sorted({type_ for type_, _ in dev.lights})
    bits = [sum(1 << i for i, (t, _) in enumerate(dev.lights) if t == type_) for type_ in types]
    return first, types, bits


def make_towards_any(dev):
    """``towards_any(l, p) -> (wi, distance)`` for light ``l`` given at run time (``0 <= l < n_lights``).

    Both the light's type and its pool offset are computed from ``l`` without a field: lights lie one
    after the other in the pool, 6 scalars each (position or direction, then intensity or irradiance),
    and the types are bits of a constant. Only the types the scene has are compiled in.
    """
    first, types, bits = _layout(dev)
    towards = [LIGHT_TYPES[type_].make_towards(dev) for type_ in types]

    @ti.func
    def towards_any(light, p):
        wi, dist = ti.Vector([0.0, 0.0, 1.0]), 0.0
        offset = first + 6 * light
        if ti.static(len(types) == 1):
            wi, dist = towards[0](offset, p)
        else:
            for k in ti.static(range(len(types))):
                if (bits[k] >> light) & 1:
                    wi, dist = towards[k](offset, p)
        return wi, dist

    return towards_any


def make_irradiance_any(dev):
    """``irradiance_any(l, p, n) -> vec3`` for light ``l`` given at run time, as :func:`make_towards_any`:
    for the kernels that are not differentiated, which loop over the lights at run time (the
    differentiated shading keeps :func:`make_lights`' unrolled pieces)."""
    first, types, bits = _layout(dev)
    irradiance = [LIGHT_TYPES[type_].make_irradiance(dev) for type_ in types]

    @ti.func
    def irradiance_any(light, p, n):
        e = ti.Vector([0.0, 0.0, 0.0])
        offset = first + 6 * light
        if ti.static(len(types) == 1):
            e = irradiance[0](offset, p, n)
        else:
            for k in ti.static(range(len(types))):
                if (bits[k] >> light) & 1:
                    e = irradiance[k](offset, p, n)
        return e

    return irradiance_any
