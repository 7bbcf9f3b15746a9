"""A directional light (Mitsuba 3's ``directional``): irradiance ``E`` in W/m^2 from infinitely far away.

``direction`` is the way the light travels, so the direction to the light is ``wi = -direction``. The
irradiance on a surface with normal ``n`` is ``E * max(0, n . wi)``; shadow rays run to infinity. The
kernels normalise ``direction`` themselves, so its gradient is tangent to the unit sphere, and the
optimiser keeps it unit length. Pool layout at ``offset``: direction (3), irradiance (3).
"""

import taichi as ti

FAR = 1.0e30  # how far a shadow ray towards a light at infinity goes


@ti.func
def irradiance_of(wi, e, n):
    """The irradiance of ``e`` W/m^2 arriving from the unit direction ``wi`` on a surface of normal ``n``."""
    return ti.max(n.dot(wi), 0.0) * e


def make_towards(dev):
    """``towards(offset, p) -> (wi, distance)`` for the directional light at pool ``offset``, which may
    be a run-time value (the visibility pass loops over the lights)."""
    where = dev.source("light")

    @ti.func
    def towards(offset, p):
        return -ti.Vector([where[offset], where[offset + 1], where[offset + 2]]).normalized(), FAR

    return towards


def make_irradiance(dev):
    """``irradiance(offset, p, n)`` for the directional light at pool ``offset``, which may be a run-time
    value (the kernels that are not differentiated loop over the lights)."""
    power = dev.source("light_power")
    towards_at = make_towards(dev)

    @ti.func
    def irradiance(offset, p, n):
        wi, _ = towards_at(offset, p)
        return irradiance_of(wi, ti.Vector([power[offset + 3], power[offset + 4], power[offset + 5]]), n)

    return irradiance


def make(dev, offset: int):
    """``(towards, irradiance)`` for the directional light whose parameters start at pool ``offset``."""
    power = dev.source("light_power")
    towards_at = make_towards(dev)

    @ti.func
    def towards(p):
        return towards_at(offset, p)

    @ti.func
    def irradiance(p, n):
        e = ti.Vector([power[offset + 3], power[offset + 4], power[offset + 5]])
        wi, _ = towards(p)
        return irradiance_of(wi, e, n)

    return towards, irradiance
