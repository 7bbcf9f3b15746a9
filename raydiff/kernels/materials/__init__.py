"""Materials as pieces: each module builds ``bsdf(offset, p, n, wi, wo) -> vec3`` for the integrator.

A piece's ``bsdf`` is the BRDF (the integrator multiplies it by the light's irradiance, which holds the
cosine at the surface) of the surface whose parameters start at pool ``offset``; ``wi`` is the unit
direction to the light, ``wo`` to the viewer, ``n`` the unit normal on the viewer's side. Pieces:
``diffuse`` (Mitsuba 3's ``diffuse``: an object's ``albedo``) and ``roughconductor`` (GGX).

:func:`make_bsdf` joins them into the one ``bsdf(record, p, n, wi, wo)`` the integrator calls, branching on
the material record (:mod:`raydiff.device.materials`) of the surface, with a branch only for the material
types the scene has. A new material is a module here, a line in :data:`MATERIALS` and its record's type
and fields in :mod:`raydiff.device.materials`; the integrator does not change.
"""

import taichi as ti

from ...device.materials import MATERIAL_CODES, offset_of, type_of
from . import diffuse, roughconductor

MATERIALS = {"diffuse": diffuse.make, "roughconductor": roughconductor.make}


def make_bsdf(dev):
    """``bsdf(record, p, n, wi, wo) -> vec3``: the BRDF of the surface whose material record is
    ``record``, for every material type of ``dev``'s scene."""
    types = sorted(dev.material_types, key=MATERIAL_CODES.get) or ["diffuse"]
    codes = [MATERIAL_CODES[t] for t in types]
    pieces = [MATERIALS[t](dev) for t in types]

    @ti.func
    def bsdf(record, p, n, wi, wo):
        offset = offset_of(record)
        f = ti.Vector([0.0, 0.0, 0.0])
        if ti.static(len(pieces) == 1):
            f = pieces[0](offset, p, n, wi, wo)
        else:
            kind = type_of(record)
            for j in ti.static(range(len(pieces))):
                if kind == codes[j]:
                    f = pieces[j](offset, p, n, wi, wo)
        return f

    return bsdf
