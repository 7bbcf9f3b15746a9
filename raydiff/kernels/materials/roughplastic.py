"""A rough plastic: Mitsuba 3's ``roughplastic`` with ``distribution: ggx`` and ``nonlinear: false``, evaluated.

A diffuse base under a rough dielectric coating of relative index ``eta = int_ior / ext_ior``. Mitsuba's
``eval`` returns, for ``wi`` towards the viewer and ``wo`` towards the light (its names), the sum of

- the coating's reflection, ``specular_reflectance F(wi . h, eta) D(h) G(wi, wo, h) / (4 cos(wi))``, with
  the dielectric Fresnel term (:func:`~raydiff.kernels.materials.fresnel.fresnel_dielectric`);
- the base seen through the coating, ``diffuse_reflectance / (1 - R_i) / (pi eta^2) T(cos(wi)) T(cos(wo))
  cos(wo)``, where ``T`` is the external transmittance and ``R_i`` the internal reflectance Mitsuba
  tabulates when the material is built (:mod:`raydiff.device.plastic_tables`), ``T`` looked up by linear
  interpolation in the cosine (Mitsuba's ``lerp_gather``, differentiable in the cosine).

That is the BRDF times ``cos(wo)``; the integrator multiplies our BSDF by the light's irradiance, which
holds that cosine, so this returns the BRDF itself: the coating's lobe is the rough conductor's
(:func:`~raydiff.kernels.materials.microfacet.ggx_lobe`) with the dielectric Fresnel term, the base's term
has no cosine. Mitsuba's specular sampling weight only steers its BSDF sampling, which direct light from
point and directional lights does not use.

Pool layout at the material's offset (:mod:`raydiff.device.materials`): alpha (1), specular_reflectance (3),
diffuse_reflectance (3), int_ior (1), ext_ior (1); the tables' row is found from the offset
(:class:`raydiff.device.materials.PlasticTables`). ``alpha`` and the indices are fixed (the tables depend on
them); the colours may be free. Two-sided, as every surface (Mitsuba: the material inside ``twosided``).
"""

import taichi as ti

from ...device.plastic_tables import TABLE_SIZE
from .fresnel import fresnel_dielectric
from .microfacet import ggx_lobe

def make(dev):
    """``bsdf(offset, p, n, wi, wo) -> vec3``: the BRDF of the rough plastic whose parameters start at pool
    ``offset``, for the unit directions ``wi`` (to the light) and ``wo`` (to the viewer) on the side of the
    unit normal ``n``."""
    src = dev.source("material")
    table, row_of, base = dev.plastic.table, dev.plastic.row, dev.plastic.base

    @ti.func
    def vec3(k):
        return ti.Vector([src[k], src[k + 1], src[k + 2]])

    @ti.func
    def transmittance(row, c):
        """The transmittance of ``row`` at cosine ``c`` in [0, 1] (its cosines: 0, 1/63, ..., 1), linearly
        interpolated; the row's last entry is the internal reflectance."""
        x = ti.max(c, 0.0) * (TABLE_SIZE - 1)
        i = ti.min(ti.cast(x, ti.i32), TABLE_SIZE - 2)
        return table[row, i] + (table[row, i + 1] - table[row, i]) * (x - ti.cast(i, ti.f32))

    @ti.func
    def bsdf(offset, p, n, wi, wo):
        row = row_of[offset - base]
        eta = src[offset + 7] / src[offset + 8]
        h, lobe = ggx_lobe(src[offset], n, wi, wo)
        specular = vec3(offset + 1) * (fresnel_dielectric(wo.dot(h), eta) * lobe)
        through = transmittance(row, n.dot(wo)) * transmittance(row, n.dot(wi))
        scale = through / ((1.0 - table[row, TABLE_SIZE]) * ti.math.pi * eta * eta)
        return specular + vec3(offset + 4) * scale

    return bsdf
