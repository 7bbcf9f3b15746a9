"""Random numbers that are a pure function of (seed, pixel, sample): common random numbers for free.

The visibility pass and the shading pass (and its gradient, and a finite-difference check at a nudged
parameter) must all trace exactly the same rays. Rather than carry random state, every sample hashes its
own coordinates, so any kernel can regenerate any sample's numbers.
"""


import taichi as ti


@ti.func
def hash_u32(x: ti.u32) -> ti.u32:
    """A 32-bit integer hash with good avalanche (Chris Wellons' "lowbias32")."""
    x ^= x >> ti.u32(16)
    x *= ti.u32(0x7FEB352D)
    x ^= x >> ti.u32(15)
    x *= ti.u32(0x846CA68B)
    x ^= x >> ti.u32(16)
    return x


@ti.func
def to_unit_float(h: ti.u32) -> ti.f32:
    """Map a hash to [0, 1) using its top 24 bits (exact in float32)."""
    return ti.cast(h >> ti.u32(8), ti.f32) * (1.0 / 16777216.0)


@ti.func
def pixel_jitter(seed: ti.u32, pixel: ti.i32, sample: ti.i32, spp_sqrt: ti.template()) -> ti.math.vec2:
    """The sub-pixel position in [0, 1)^2 of sample ``sample`` of pixel ``pixel``.

    With ``spp_sqrt`` > 0 (spp is a square), samples are stratified on a ``spp_sqrt`` x ``spp_sqrt`` grid
    with a random offset inside each cell; otherwise they are independent uniform.
    """
    h = hash_u32(hash_u32(seed ^ ti.u32(0x9E3779B9)) ^ ti.cast(pixel, ti.u32))
    h = hash_u32(h ^ (ti.cast(sample, ti.u32) * ti.u32(0x85EBCA6B)))
    u = to_unit_float(h)
    v = to_unit_float(hash_u32(h ^ ti.u32(0x68E31DA4)))
    result = ti.math.vec2(u, v)
    if ti.static(spp_sqrt > 0):
        cell = ti.math.vec2(sample % spp_sqrt, sample // spp_sqrt)
        result = (cell + result) / spp_sqrt
    return result
