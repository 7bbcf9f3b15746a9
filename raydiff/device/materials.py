"""The material record: which material a surface has and where its parameters sit in the pool, one int32.

    bit  31      30 ..... 28      27 ........................... 0
         0       material type    pool offset of its parameters

The surface (:mod:`raydiff.kernels.surface`) returns it for the hit primitive; the BSDF
(:mod:`raydiff.kernels.materials`) branches on the type and reads the parameters at the offset, in the
order of the material's kinds in :data:`raydiff.scene.parameters.KINDS`: ``albedo`` (3) for a diffuse
surface; ``material.alpha`` (1), ``material.specular_reflectance`` (3), ``material.eta`` (3) and
``material.k`` (3) for a rough conductor; the same but ``alpha`` for a smooth ``conductor`` (a mirror).

A diffuse surface whose ``albedo`` is a texture has the type ``textured``; its record's offset is not a
pool offset but the surface's row in the scene's texture table (:class:`raydiff.device.scene.DeviceScene`'s
``texture_offset``, ``texture_width``, ``texture_height``: where its texels start in the pool, and its
size), since a texel's place needs the image's width too.
"""

import taichi as ti

from ..scene.model import SPECULAR_MATERIALS

DIFFUSE, ROUGHCONDUCTOR, CONDUCTOR = 0, 1, 2
#: A diffuse surface with a texture (the record's offset is its row in the texture table).
TEXTURED = 3
#: Material type -> its number in the record.
MATERIAL_CODES = {"diffuse": DIFFUSE, "roughconductor": ROUGHCONDUCTOR, "conductor": CONDUCTOR}
MATERIAL_CODES["textured"] = TEXTURED
#: Material type -> its fields in the pool, in the kernels' order (each consecutive after the first).
MATERIAL_FIELDS = {
    "diffuse": (("albedo", 3),),
    "roughconductor": (("material.alpha", 1), ("material.specular_reflectance", 3), ("material.eta", 3),
                       ("material.k", 3)),
    "conductor": (("material.specular_reflectance", 3), ("material.eta", 3), ("material.k", 3)),
}
#: The specular (delta) material types: a mirror's reflected ray is followed, not its BSDF evaluated.
SPECULAR_TYPES = SPECULAR_MATERIALS
TYPE_SHIFT = 28
OFFSET_MASK = (1 << TYPE_SHIFT) - 1
#: The pool may hold at most this many entries for offsets to fit the record.
MAX_POOL = 1 << TYPE_SHIFT


def pack(material_type: str, offset: int) -> int:
    """The record of a surface of ``material_type`` whose parameters start at pool ``offset`` (host side)."""
    assert 0 <= offset < MAX_POOL, offset
    return (MATERIAL_CODES[material_type] << TYPE_SHIFT) | offset


@ti.func
def type_of(record):
    return record >> TYPE_SHIFT


@ti.func
def offset_of(record):
    return record & OFFSET_MASK
