"""The Lambertian material (Mitsuba 3's ``diffuse``): ``albedo / pi`` for every pair of directions.

Surfaces are two-sided: the shading normal faces the viewer (:mod:`raydiff.kernels.surface`). The albedo
is read from the pool at the surface's albedo offset (3 entries, linear RGB in [0, 1]).
"""

import taichi as ti


def make(dev):
    """``bsdf(offset, p, n, wi, wo) -> vec3``: the diffuse BRDF of the surface whose albedo is at ``offset``."""
    albedo = dev.source("albedo")

    @ti.func
    def bsdf(offset, p, n, wi, wo):
        return ti.Vector([albedo[offset], albedo[offset + 1], albedo[offset + 2]]) * (1.0 / ti.math.pi)

    return bsdf
