"""An isotropic point light (Mitsuba 3's ``point``): intensity ``I`` in W/sr at ``position``.

Irradiance at ``p`` on a surface with normal ``n``: ``I * max(0, n . wi) / r^2``, with ``wi`` the unit
direction to the light and ``r`` its distance. Pool layout at ``offset``: position (3), intensity (3).
"""

import taichi as ti


@ti.func
def irradiance_of(position, intensity, p, n):
    """The irradiance at ``p`` (unit normal ``n``) of a point light of ``intensity`` at ``position``."""
    to_light = position - p
    r2 = to_light.dot(to_light)
    cos = ti.max(n.dot(to_light) / ti.sqrt(r2), 0.0)
    return cos / r2 * intensity


def make_towards(dev):
    """``towards(offset, p) -> (wi, distance)`` for the point light at pool ``offset``, which may be a
    run-time value (the visibility pass loops over the lights)."""
    where = dev.source("light")

    @ti.func
    def towards(offset, p):
        to_light = ti.Vector([where[offset], where[offset + 1], where[offset + 2]]) - p
        dist = to_light.norm()
        return to_light / dist, dist

    return towards


def make_irradiance(dev):
    """``irradiance(offset, p, n)`` for the point light at pool ``offset``, which may be a run-time value
    (the kernels that are not differentiated loop over the lights)."""
    where, power = dev.source("light"), dev.source("light_power")

    @ti.func
    def irradiance(offset, p, n):
        return irradiance_of(ti.Vector([where[offset], where[offset + 1], where[offset + 2]]),
                             ti.Vector([power[offset + 3], power[offset + 4], power[offset + 5]]), p, n)

    return irradiance


def make(dev, offset: int):
    """``(towards, irradiance)`` for the point light whose parameters start at pool ``offset``."""
    where, power = dev.source("light"), dev.source("light_power")
    towards_at = make_towards(dev)

    @ti.func
    def position():
        return ti.Vector([where[offset], where[offset + 1], where[offset + 2]])

    @ti.func
    def towards(p):
        return towards_at(offset, p)

    @ti.func
    def irradiance(p, n):  # the offsets Python ints: the shading gradient reads the free ones' 0-D copies
        intensity = ti.Vector([power[offset + 3], power[offset + 4], power[offset + 5]])
        return irradiance_of(position(), intensity, p, n)

    return towards, irradiance
