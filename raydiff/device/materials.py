"""The material record: which material a surface has and where its parameters sit in the pool, one int32.

    bit  31      30 ..... 28      27 ........................... 0
         0       material type    pool offset of its parameters

The surface (:mod:`raydiff.kernels.surface`) returns it for the hit primitive; the BSDF
(:mod:`raydiff.kernels.materials`) branches on the type and reads the parameters at the offset, in the
order of the material's kinds in :data:`raydiff.scene.parameters.KINDS`: ``albedo`` (3) for a diffuse
surface; ``material.alpha`` (1), ``material.specular_reflectance`` (3), ``material.eta`` (3) and
``material.k`` (3) for a rough conductor; the same but ``alpha`` for a smooth ``conductor`` (a mirror);
``material.alpha`` (1), ``material.specular_reflectance`` (3), ``material.diffuse_reflectance`` (3),
``material.int_ior`` (1) and ``material.ext_ior`` (1) for a ``roughplastic``.

A rough plastic also has Mitsuba's precomputed tables (:mod:`raydiff.device.plastic_tables`), which are
not parameters: :class:`PlasticTables` keeps them in fixed fields, one row per rough-plastic surface,
found from the surface's pool offset.

A diffuse surface whose ``albedo`` is a texture has the type ``textured``; its record's offset is not a
pool offset but the surface's row in the scene's texture table (:class:`raydiff.device.scene.DeviceScene`'s
``texture_offset``, ``texture_width``, ``texture_height``: where its texels start in the pool, and its
size), since a texel's place needs the image's width too.
"""

import numpy as np
import taichi as ti

from ..scene.model import SPECULAR_MATERIALS, material_type
from .plastic_tables import TABLE_SIZE, tables

DIFFUSE, ROUGHCONDUCTOR, CONDUCTOR = 0, 1, 2
ROUGHPLASTIC = 3
#: A diffuse surface with a texture (the record's offset is its row in the texture table).
TEXTURED = 4
#: Material type -> its number in the record.
MATERIAL_CODES = {"diffuse": DIFFUSE, "roughconductor": ROUGHCONDUCTOR, "conductor": CONDUCTOR}
MATERIAL_CODES["roughplastic"] = ROUGHPLASTIC
MATERIAL_CODES["textured"] = TEXTURED
#: Material type -> its fields in the pool, in the kernels' order (each consecutive after the first).
MATERIAL_FIELDS = {
    "diffuse": (("albedo", 3),),
    "roughconductor": (("material.alpha", 1), ("material.specular_reflectance", 3), ("material.eta", 3),
                       ("material.k", 3)),
    "conductor": (("material.specular_reflectance", 3), ("material.eta", 3), ("material.k", 3)),
    "roughplastic": (("material.alpha", 1), ("material.specular_reflectance", 3),
                     ("material.diffuse_reflectance", 3), ("material.int_ior", 1), ("material.ext_ior", 1)),
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


#: A table row: the external transmittance at :data:`TABLE_SIZE` cosines, then the internal reflectance.
ROW = TABLE_SIZE + 1


def plastic_rows(scene) -> np.ndarray:
    """(n, :data:`ROW`) float32: per rough-plastic object of ``scene``, in scene order, its tables."""
    rows = [np.append(*tables(o.material.alpha, o.material.int_ior, o.material.ext_ior))
            for o in scene.objects if material_type(o) == "roughplastic"]
    return np.array(rows, dtype=np.float32).reshape(len(rows), ROW)


class PlasticTables:
    """Mitsuba's ``roughplastic`` tables of every rough-plastic surface of a scene, in fixed fields.

    Parameters
    ----------
    scene : Scene
    offsets : list of int
        The pool offset of each rough-plastic object's parameters, in scene order (its record's offset).

    Attributes
    ----------
    table : ti.field (f32, (rows, ROW))
        Row ``r``: the external transmittance at the cosines ``0, 1/63, ..., 1``, then the internal
        reflectance (:func:`plastic_rows`).
    row : ti.field (i32)
        The row of the surface whose parameters start at pool offset ``base + i``, at ``i``; -1 elsewhere.
    base : int
        The smallest of ``offsets``.
    """

    def __init__(self, scene, offsets: list[int]):
        self.base = min(offsets, default=0)
        span = max(offsets, default=0) - self.base + 1
        index = np.full(span, -1, dtype=np.int32)
        index[np.array(offsets, dtype=np.int64) - self.base] = np.arange(len(offsets), dtype=np.int32)
        self.table = ti.field(ti.f32, shape=(max(len(offsets), 1), ROW))
        self.row = ti.field(ti.i32, shape=span)
        self.row.from_numpy(index)
        self.write(scene)

    def write(self, scene) -> None:
        """Compute the tables for ``scene`` (when built; again for the same objects with other alphas or
        indices, as the parity tests do: the kernels stay as they are). About 0.5 s per distinct alpha and
        pair of indices (:func:`~raydiff.device.plastic_tables.tables` keeps them)."""
        rows = plastic_rows(scene)
        if len(rows):
            self.table.from_numpy(rows)


def offset_in(record: int) -> int:
    """The pool offset held by ``record`` (host side)."""
    return record & OFFSET_MASK
