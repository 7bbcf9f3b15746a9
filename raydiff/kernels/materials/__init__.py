"""Materials as pieces: each module builds ``bsdf(offset, p, n, wi, wo) -> vec3`` for the integrator.

A piece's ``bsdf`` is the BRDF (the integrator multiplies it by the light's irradiance, which holds the
cosine at the surface) of the surface whose parameters start at pool ``offset``; ``wi`` is the unit
direction to the light, ``wo`` to the viewer, ``n`` the unit normal on the viewer's side. Pieces:
``diffuse`` (Mitsuba 3's ``diffuse``: an object's ``albedo``), ``textured`` (the same with a ``bitmap``
texture: its ``bsdf`` also takes the hit's uv, see :data:`TAKES_UV`), ``roughconductor`` (GGX),
``conductor`` (a smooth mirror: a delta BSDF, whose ``bsdf`` is 0 for delta lights) and ``roughplastic``
(GGX, a diffuse base under a rough dielectric coating).

:func:`make_bsdf` joins them into the one ``bsdf(record, p, n, wi, wo, uv)`` the integrator calls, branching on
the material record (:mod:`raydiff.device.materials`) of the surface, with a branch only for the material
types the scene has. A new material is a module here, a line in :data:`MATERIALS` and its record's type
and fields in :mod:`raydiff.device.materials`; the integrator does not change.

A *specular* material (a delta BSDF: the mirror) also has a ``reflectance(offset, n, wo)``, the weight of
the one reflected ray, in :data:`SPECULAR`; :func:`make_specular` joins those for the integrator, which
follows the reflected ray up to the scene's ``max_depth``.
"""

import taichi as ti

from ...device.materials import MATERIAL_CODES, SPECULAR_TYPES, offset_of, type_of
from . import conductor, diffuse, roughconductor, roughplastic, textured

MATERIALS = {"diffuse": diffuse.make, "roughconductor": roughconductor.make, "conductor": conductor.make}
MATERIALS["roughplastic"] = roughplastic.make
MATERIALS["textured"] = textured.make
#: The materials whose ``bsdf`` takes the hit's uv as a sixth argument (``bsdf(offset, p, n, wi, wo, uv)``).
TAKES_UV = {"textured"}
#: The specular (delta) materials: type -> ``make(dev) -> reflectance(offset, n, wo)``.
SPECULAR = {"conductor": conductor.make_reflectance}
assert set(SPECULAR) == SPECULAR_TYPES, "device/materials.py and kernels/materials disagree on the mirrors"


def specular_types(dev) -> list[str]:
    """The specular material types of ``dev``'s scene, in record order."""
    return sorted((t for t in dev.material_types if t in SPECULAR), key=MATERIAL_CODES.get)


def make_specular(dev):
    """``(is_specular(record) -> bool, reflectance(record, n, wo) -> vec3)`` for the specular materials of
    ``dev``'s scene (see :func:`specular_types`; with none, ``is_specular`` is always False): whether a
    surface is a mirror, and the weight of its reflected ray for the unit normal ``n`` and the unit
    direction ``wo`` to the viewer."""
    types = specular_types(dev)
    codes = [MATERIAL_CODES[t] for t in types]
    pieces = [SPECULAR[t](dev) for t in types]

    @ti.func
    def is_specular(record):
        kind = type_of(record)
        found = False
        for j in ti.static(range(len(codes))):
            found = found or kind == codes[j]
        return found

    @ti.func
    def reflectance(record, n, wo):
        kind, offset = type_of(record), offset_of(record)
        f = ti.Vector([0.0, 0.0, 0.0])
        for j in ti.static(range(len(pieces))):
            if kind == codes[j]:
                f = pieces[j](offset, n, wo)
        return f

    return is_specular, reflectance


def make_bsdf(dev):
    """``bsdf(record, p, n, wi, wo, uv) -> vec3``: the BRDF of the surface whose material record is
    ``record`` at the hit's ``uv`` (:mod:`raydiff.kernels.surface`), for every material type of ``dev``'s
    scene."""
    types = sorted(dev.material_types, key=MATERIAL_CODES.get) or ["diffuse"]
    codes = [MATERIAL_CODES[t] for t in types]
    pieces = [MATERIALS[t](dev) for t in types]
    with_uv = [t in TAKES_UV for t in types]

    @ti.func
    def piece(j: ti.template(), offset, p, n, wi, wo, uv):
        f = ti.Vector([0.0, 0.0, 0.0])
        if ti.static(with_uv[j]):
            f = pieces[j](offset, p, n, wi, wo, uv)
        else:
            f = pieces[j](offset, p, n, wi, wo)
        return f

    @ti.func
    def bsdf(record, p, n, wi, wo, uv):
        offset = offset_of(record)
        f = ti.Vector([0.0, 0.0, 0.0])
        if ti.static(len(pieces) == 1):
            f = piece(0, offset, p, n, wi, wo, uv)
        else:
            kind = type_of(record)
            for j in ti.static(range(len(pieces))):
                if kind == codes[j]:
                    f = piece(j, offset, p, n, wi, wo, uv)
        return f

    return bsdf
