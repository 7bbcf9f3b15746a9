"""The isotropic GGX microfacet distribution, as Mitsuba 3's ``MicrofacetDistribution`` evaluates it.

Written in world space on the shading normal ``n`` (unit), for unit directions: where Mitsuba's local frame
has ``cos_theta(v) = v.z`` and ``x^2 + y^2``, these use ``n . v`` and ``|n x v|^2`` (the latter exact
where ``1 - cos^2`` would cancel, for the narrow lobes of small ``alpha``). Straight-line code only: the
shading pass differentiates it (with respect to ``alpha``, the normal and both directions).
"""

import taichi as ti


@ti.func
def safe_sqrt(x):
    """``sqrt(max(x, 0))``, with a finite derivative at 0: the floor is 1e-30, whose root (1e-15) is
    negligible next to every term it is added to."""
    return ti.sqrt(ti.max(x, 1e-30))


@ti.func
def ggx(alpha, n, m):
    """The GGX density of microfacet normal ``m``, ``1 / (pi a^2 (sin^2/a^2 + cos^2)^2)``, and 0 where
    ``D cos(m) <= 1e-20`` (as Mitsuba does, against numerical trouble further on)."""
    c = n.dot(m)
    a2 = alpha * alpha
    t = n.cross(m).norm_sqr() / a2 + c * c
    d = 1.0 / (ti.math.pi * a2 * t * t)
    return ti.select(d * c > 1e-20, d, 0.0)


@ti.func
def smith_g1_over_cos(alpha, n, v, m):
    """Smith's GGX masking of direction ``v`` by facets of normal ``m``, divided by ``cos(v) = n . v``:
    ``G1 / cos = 2 / (cos + sqrt(cos^2 + a^2 sin^2))``, which equals Mitsuba's
    ``2 / (1 + sqrt(1 + a^2 tan^2)) / cos`` and stays finite at grazing angles; 0 where ``v`` sees the
    back of the facet (``(v . m) cos <= 0``)."""
    c = n.dot(v)
    g = 2.0 / (c + ti.sqrt(c * c + alpha * alpha * n.cross(v).norm_sqr()))
    return ti.select(v.dot(m) * c > 0.0, g, 0.0)


@ti.func
def ggx_lobe(alpha, n, wi, wo):
    """``(h, D(h) G1(wi) G1(wo) / (4 cos(wi) cos(wo)))``: the half vector of the unit directions ``wi`` and
    ``wo`` and the GGX microfacet reflection without its Fresnel term, divided by both cosines (the BRDF
    of a perfect reflector; the rough conductor and the rough plastic multiply it by their Fresnel
    terms)."""
    h = (wi + wo).normalized()
    g = smith_g1_over_cos(alpha, n, wo, h) * smith_g1_over_cos(alpha, n, wi, h)
    return h, 0.25 * ggx(alpha, n, h) * g
