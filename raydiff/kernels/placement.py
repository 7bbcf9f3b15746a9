"""Placing moving meshes before a render: world-space triangles from their poses, and the BVH's boxes refit.

Only scenes with a free mesh pose (scale, rotation or translation) need this: their object-space corners
are on the device (``DeviceScene.tri_local``), and before every visibility pass one kernel places every
triangle with its mesh's current pose from the pool, then a second one recomputes every BVH node's box
from the triangles below it. The tree's topology stays the one built on the host for the starting pose:
still correct for any pose (each box bounds its triangles), only less tight when a pose changes a lot.

Never differentiated: the shading pass places the hit triangle again, differentiably
(:mod:`raydiff.kernels.surface`).
"""

import taichi as ti

from ..device.scene import DeviceScene
from .surface import make_place


def make_placement(dev: DeviceScene):
    """Return ``place_meshes()`` (a Python callable launching the kernels), or None when nothing moves."""
    if not dev.moving_meshes:
        return None
    place = make_place(dev.pool)
    local0, local1, local2 = dev.tri_local
    tri_mesh, pose_offset = dev.tri_mesh, dev.mesh_pose_offset
    v0s, e1s, e2s, normals = dev.tri_v0, dev.tri_e1, dev.tri_e2, dev.tri_normal
    lower, upper, first, span = dev.node_lower, dev.node_upper, dev.node_first, dev.node_span
    n_triangles, n_nodes = dev.n_triangles, dev.n_nodes

    @ti.kernel
    def place_triangles():
        for i in range(n_triangles):
            k = pose_offset[tri_mesh[i]]
            v0 = place(k, local0[i])
            e1 = place(k, local1[i]) - v0
            e2 = place(k, local2[i]) - v0
            v0s[i], e1s[i], e2s[i] = v0, e1, e2
            normals[i] = e1.cross(e2).normalized()

    @ti.kernel
    def refit_boxes():
        for node in range(n_nodes):
            lo = ti.Vector([3.0e38, 3.0e38, 3.0e38])
            hi = -lo
            for j in range(first[node], first[node] + span[node]):
                v0 = v0s[j]
                for corner in ti.static(range(3)):
                    q = v0
                    if ti.static(corner == 1):
                        q = v0 + e1s[j]
                    elif ti.static(corner == 2):
                        q = v0 + e2s[j]
                    lo, hi = ti.min(lo, q), ti.max(hi, q)
            lower[node], upper[node] = lo, hi

    def place_meshes():
        place_triangles()
        refit_boxes()

    return place_meshes
