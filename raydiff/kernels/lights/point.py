"""An isotropic point light (Mitsuba 3's ``point``): intensity ``I`` in W/sr at ``position``.

Irradiance at ``p`` on a surface with normal ``n``: ``I * max(0, n . wi) / r^2``, with ``wi`` the unit
direction to the light and ``r`` its distance. Pool layout at ``offset``: position (3), intensity (3).
"""

import taichi as ti


def make(dev, offset: int):
    """``(towards, irradiance)`` for the point light whose parameters start at pool ``offset``."""
    where, power = dev.source("light"), dev.source("light_power")

    @ti.func
    def position():
        return ti.Vector([where[offset], where[offset + 1], where[offset + 2]])

    @ti.func
    def towards(p):
        to_light = position() - p
        dist = to_light.norm()
        return to_light / dist, dist

    @ti.func
    def irradiance(p, n):
        intensity = ti.Vector([power[offset + 3], power[offset + 4], power[offset + 5]])
        to_light = position() - p
        r2 = to_light.dot(to_light)
        cos = ti.max(n.dot(to_light) / ti.sqrt(r2), 0.0)
        return cos / r2 * intensity

    return towards, irradiance
