"""The hit's geometry, recomputed differentiably from what the visibility pass recorded.

Given a ray and a hit record (which primitive, which root), return the hit point, the shading normal
(facing the ray's origin: surfaces are two-sided) and the pool offset of the surface's albedo. Only
straight-line code and branches on the primitive kind: no loops, so Taichi's autodiff needs no adstack
and the kernel runs differentiated on every backend, Vulkan included.
"""


import taichi as ti

from ..device.scene import INDEX_BITS, KIND_QUAD, KIND_SPHERE, DeviceScene


def make_surface(dev: DeviceScene):
    """Build ``surface(o, d, code) -> (p, n, albedo_offset)`` for this scene."""
    geo = dev.source("geometry")
    sphere_offset, sphere_albedo = dev.sphere_offset, dev.sphere_albedo
    quad_offset, quad_albedo = dev.quad_offset, dev.quad_albedo
    v0s, normals, tri_albedo = dev.tri_v0, dev.tri_normal, dev.tri_albedo
    index_mask = (1 << INDEX_BITS) - 1

    @ti.func
    def vec3(k):
        return ti.Vector([geo[k], geo[k + 1], geo[k + 2]])

    @ti.func
    def surface(o, d, code):
        kind = code >> 29
        far = (code >> 28) & 1
        i = code & index_mask
        p = ti.Vector([0.0, 0.0, 0.0])
        n = ti.Vector([0.0, 0.0, 1.0])
        albedo = 0
        if kind == KIND_SPHERE:
            k = sphere_offset[i]
            center, r = vec3(k), geo[k + 3]
            oc = o - center
            b = oc.dot(d)
            # max(., 0) + tiny: at a silhouette the recorded hit may be a grazing miss in float32
            s = ti.sqrt(ti.max(b * b - (oc.dot(oc) - r * r), 0.0) + 1e-12)
            t = -b + ti.select(far == 1, s, -s)
            p = o + t * d
            n = (p - center) / r
            albedo = sphere_albedo[i]
        elif kind == KIND_QUAD:
            k = quad_offset[i]
            origin = vec3(k)
            nq = vec3(k + 3).cross(vec3(k + 6))
            t = (origin - o).dot(nq) / d.dot(nq)
            p = o + t * d
            n = nq.normalized()
            albedo = quad_albedo[i]
        else:  # a triangle: constant geometry for now
            nt = normals[i]
            t = (v0s[i] - o).dot(nt) / d.dot(nt)
            p = o + t * d
            n = nt
            albedo = tri_albedo[i]
        n = ti.select(n.dot(d) > 0.0, -n, n)  # two-sided: face the viewer
        return p, n, albedo

    return surface
