"""A directional light (Mitsuba 3's ``directional``): irradiance ``E`` in W/m^2 from infinitely far away.

``direction`` is the way the light travels, so the direction to the light is ``wi = -direction``. The
irradiance on a surface with normal ``n`` is ``E * max(0, n . wi)``; shadow rays run to infinity. The
kernels normalise ``direction`` themselves, so its gradient is tangent to the unit sphere, and the
optimiser keeps it unit length. Pool layout at ``offset``: direction (3), irradiance (3).
"""

import taichi as ti

FAR = 1.0e30  # how far a shadow ray towards a light at infinity goes


def make(dev, offset: int):
    """``(towards, irradiance)`` for the directional light whose parameters start at pool ``offset``."""
    where, power = dev.source("light"), dev.source("light_power")

    @ti.func
    def to_light():
        return -ti.Vector([where[offset], where[offset + 1], where[offset + 2]]).normalized()

    @ti.func
    def towards(p):
        return to_light(), FAR

    @ti.func
    def irradiance(p, n):
        e = ti.Vector([power[offset + 3], power[offset + 4], power[offset + 5]])
        return ti.max(n.dot(to_light()), 0.0) * e

    return towards, irradiance
