"""A smooth metal, a mirror: Mitsuba 3's ``conductor``.

Its BSDF is a delta: all light arriving along ``wi`` leaves along the mirrored direction, weighted by
``specular_reflectance`` times the conductor Fresnel term ``F(cos)`` (:mod:`~raydiff.kernels.materials.fresnel`)
at the cosine between the normal and the viewer. Point and directional lights are deltas too, so a light
never shines off a mirror straight into the viewer (Mitsuba: the chance of that is zero): :func:`make`'s
``bsdf`` is 0 for every pair of directions, and a mirror shows only what its reflected ray sees, which the
integrator follows up to the scene's ``max_depth`` (:func:`make_reflectance` is the weight of that ray).

Pool layout at the material's offset (:mod:`raydiff.device.materials`): specular_reflectance (3), eta (3),
k (3). Two-sided, as every surface.
"""

import taichi as ti

from .fresnel import fresnel_conductor


def make(dev):
    """``bsdf(offset, p, n, wi, wo) -> vec3``: 0, the part of a delta BSDF that delta lights see."""

    @ti.func
    def bsdf(offset, p, n, wi, wo):
        return ti.Vector([0.0, 0.0, 0.0])

    return bsdf


def make_reflectance(dev):
    """``reflectance(offset, n, wo) -> vec3``: the weight of the mirrored ray, ``specular_reflectance *
    F(n . wo)``, for the mirror whose parameters start at pool ``offset``, the unit normal ``n`` and the unit
    direction ``wo`` to the viewer on its side."""
    src = dev.source("material")

    @ti.func
    def vec3(k):
        return ti.Vector([src[k], src[k + 1], src[k + 2]])

    @ti.func
    def reflectance(offset, n, wo):
        return vec3(offset) * fresnel_conductor(n.dot(wo), vec3(offset + 3), vec3(offset + 6))

    return reflectance
