"""The hit record: what the visibility pass found for one sample, packed into one int32.

    bit  31       30 29      28          27 ..................... 0
         sign     kind       far root    index of the primitive
         (-1: the ray missed everything)

- ``kind``: :data:`SPHERE`, :data:`QUAD` or :data:`TRIANGLE`;
- ``far``: for a sphere, 1 when the hit is its far root (the ray starts inside it), else 0;
- ``index``: the sphere's, quad's or (BVH-ordered) triangle's index among its kind.

A second int32 per sample, the visibility *mask*, has bit ``l`` set when light ``l`` is seen from the hit
point that is shaded (so at most :data:`MAX_LIGHTS` lights): the first hit, or, in a scene with mirrors and
``max_depth`` above 2, the last hit of the mirrors' reflected rays, whose records are packed like the
first one.
"""

import taichi as ti

SPHERE, QUAD, TRIANGLE = 1, 2, 3
KIND_SHIFT, FAR_SHIFT = 29, 28
INDEX_BITS = 28
INDEX_MASK = (1 << INDEX_BITS) - 1
MISS = -1
MAX_LIGHTS = 31
MAX_PRIMITIVES = 1 << INDEX_BITS


@ti.func
def pack(kind, far, index):
    """The record of a hit on primitive ``index`` of ``kind`` (``far``: the sphere's far root)."""
    return (kind << KIND_SHIFT) | (far << FAR_SHIFT) | index


@ti.func
def kind_of(code):
    return code >> KIND_SHIFT


@ti.func
def far_of(code):
    return (code >> FAR_SHIFT) & 1


@ti.func
def index_of(code):
    return code & INDEX_MASK


@ti.func
def light_seen(mask, light):
    """1.0 if bit ``light`` of the visibility mask is set, else 0.0."""
    return ti.cast((mask >> light) & 1, ti.f32)
