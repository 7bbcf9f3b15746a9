"""A diffuse surface painted with a texture: Mitsuba 3's ``diffuse`` with a ``bitmap`` reflectance
(``filter_type: bilinear``, ``wrap_mode: repeat``), ``albedo(uv) / pi``.

The texture is looked up as Dr.Jit's textures do it: texel centres at ``((i + 0.5) / width, (j + 0.5) /
height)``, row ``j`` counted from the image's top row (row 0 is read at v = 0: Mitsuba stores the file's
rows as they come), the four nearest texels weighted bilinearly, indices wrapped around (repeat). The
texels are pool entries (linear RGB, row by row, three channels each, from the offset in the texture
table), so the gradient of a lookup lands on its four texels, and through the weights on ``uv``: a surface
that moves carries its texture with it.
"""

import taichi as ti

#: This piece's ``bsdf`` takes the hit's uv as its last argument (see :func:`raydiff.kernels.materials.make_bsdf`).
TAKES_UV = True


def make_lookup(dev):
    """``lookup(row, uv) -> vec3``: the bilinear value of texture ``row`` of ``dev``'s texture table at ``uv``."""
    texels = dev.source("albedo")
    base, widths, heights = dev.texture_offset, dev.texture_width, dev.texture_height

    @ti.func
    def texel(k, w, i, j):
        at = k + 3 * (j * w + i)
        return ti.Vector([texels[at], texels[at + 1], texels[at + 2]])

    @ti.func
    def lookup(row, uv):
        k, w, h = base[row], widths[row], heights[row]
        x = uv[0] * ti.cast(w, ti.f32) - 0.5
        y = uv[1] * ti.cast(h, ti.f32) - 0.5
        fx, fy = ti.floor(x), ti.floor(y)
        ax, ay = x - fx, y - fy  # the weights' fractions: differentiable in uv
        i0, j0 = ti.cast(fx, ti.i32), ti.cast(fy, ti.i32)
        i0, j0 = i0 % w, j0 % h  # repeat (Taichi's % of ints takes the divisor's sign)
        i1, j1 = (i0 + 1) % w, (j0 + 1) % h
        return ((1.0 - ay) * ((1.0 - ax) * texel(k, w, i0, j0) + ax * texel(k, w, i1, j0))
                + ay * ((1.0 - ax) * texel(k, w, i0, j1) + ax * texel(k, w, i1, j1)))

    return lookup


def make(dev):
    """``bsdf(offset, p, n, wi, wo, uv) -> vec3``: the diffuse BRDF of the textured surface whose row in
    the texture table is ``offset``, at the hit's ``uv``."""
    lookup = make_lookup(dev)

    @ti.func
    def bsdf(offset, p, n, wi, wo, uv):
        return lookup(offset, uv) * (1.0 / ti.math.pi)

    return bsdf
