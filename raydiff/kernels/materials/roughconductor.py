"""A rough metal: Mitsuba 3's ``roughconductor`` with ``distribution: ggx`` (isotropic), evaluated.

Mitsuba's ``eval`` returns, for ``wi`` towards the viewer and ``wo`` towards the light (its names),
``F(wi . h) D(h) G(wi, wo, h) / (4 cos(wi))`` times ``specular_reflectance``, with ``h`` the half vector;
that is the BRDF times ``cos(wo)``. The integrator multiplies our BSDF by the light's irradiance, which
holds that cosine, so this returns the BRDF itself,
``specular_reflectance F D (G1(view) / cos(view)) (G1(light) / cos(light)) / 4``, each masking term divided
by its own cosine in closed form (:func:`~raydiff.kernels.materials.microfacet.smith_g1_over_cos`), so that
nothing is divided by a vanishing cosine. ``F`` is Mitsuba's ``fresnel_conductor`` for the complex index
``eta + i k`` per RGB channel (:mod:`~raydiff.kernels.materials.fresnel`, shared with the smooth conductor).

Pool layout at the material's offset (:mod:`raydiff.device.materials`): alpha (1), specular_reflectance (3),
eta (3), k (3). Surfaces are two-sided as everywhere (Mitsuba: the material inside ``twosided``).
"""

import taichi as ti

from .fresnel import fresnel_conductor
from .microfacet import ggx_lobe


def make(dev):
    """``bsdf(offset, p, n, wi, wo) -> vec3``: the BRDF of the rough conductor whose parameters start at
    pool ``offset``, for the unit directions ``wi`` (to the light) and ``wo`` (to the viewer) on the side of
    the unit normal ``n``."""
    src = dev.source("material")

    @ti.func
    def vec3(k):
        return ti.Vector([src[k], src[k + 1], src[k + 2]])

    @ti.func
    def bsdf(offset, p, n, wi, wo):
        h, lobe = ggx_lobe(src[offset], n, wi, wo)
        f = fresnel_conductor(wo.dot(h), vec3(offset + 4), vec3(offset + 7))
        return vec3(offset + 1) * f * lobe

    return bsdf
