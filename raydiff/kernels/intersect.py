"""Nearest-hit search and shadow tests. Never differentiated.

The visibility pass calls these to decide *what* each ray hits; the shading pass then recomputes *where*
from the recorded primitive, differentiably (:mod:`raydiff.surface`). Spheres and quads are tested one by
one (scenes have few); triangles go through the threaded BVH of :mod:`raydiff.device.meshes`, walked two
ways:

- the nearest hit (camera rays): both children's boxes are tested, the nearer child is visited first and
  the farther one pushed on a short stack (one entry per level, in a local array) with its entry
  distance, and a node whose box starts beyond the best hit so far is never opened. Among hits at equal
  distance the lowest triangle index wins, as in pre-order, so the record is the one the stackless walk
  finds.
- any hit (shadow rays): the stackless pre-order walk, which stops at the first hit: on a box hit go to
  the next node, on a miss (or after a leaf) jump to ``skip``.
"""


import taichi as ti

from ..device.hitrecord import MISS, QUAD, SPHERE, TRIANGLE, far_of, pack
from ..device.scene import DeviceScene

INF = 3.0e38


UNROLL_LIMIT = 16  # up to this many spheres (quads) are tested in unrolled code with constant offsets


def make_intersector(dev: DeviceScene, ordered: bool = True):
    """Build ``nearest(o, d) -> (t, code)`` and ``occluded(o, d, t_max) -> bool`` for this scene.

    ``d`` must be normalised. ``ordered``: the nearest hit by the walk that visits nearer children first
    (the default); False: by the stackless pre-order walk (the same records: the reference for tests and
    benchmarks). ``code`` is the packed hit record (:mod:`raydiff.device.hitrecord`),
    ``MISS`` (-1) for a miss. Hits closer than ``dev.epsilon`` are ignored (self-intersection).

    The functions are specialised to the scene when compiled: a few spheres or quads are tested in
    unrolled code whose pool offsets are constants, and the BVH walk is left out of scenes without
    triangles. This roughly halves the cost of a ray in small scenes.
    """
    pool = dev.pool  # geometry may be free: always read its current values
    eps = dev.epsilon
    n_spheres, n_quads, n_nodes = dev.n_spheres, dev.n_quads, dev.n_nodes
    sphere_offset, quad_offset = dev.sphere_offset, dev.quad_offset
    v0s, e1s, e2s = dev.tri_v0, dev.tri_e1, dev.tri_e2
    lower, upper = dev.node_lower, dev.node_upper
    skip, first, count = dev.node_skip, dev.node_first, dev.node_count
    stack_size = max(dev.bvh_depth - 1, 1)

    @ti.func
    def vec3(k):
        return ti.Vector([pool[k], pool[k + 1], pool[k + 2]])

    unroll_spheres = n_spheres <= UNROLL_LIMIT
    unroll_quads = n_quads <= UNROLL_LIMIT
    sphere_offsets, quad_offsets = dev.sphere_geometry, dev.quad_geometry

    @ti.func
    def hit_sphere(k, o, d, t_max):
        """(t, far_root) of the nearest hit in (eps, t_max) of the sphere at pool offset k; t = INF if none."""
        oc = o - vec3(k)
        r = pool[k + 3]
        b = oc.dot(d)
        disc = b * b - (oc.dot(oc) - r * r)
        t, far = INF, 0
        if disc > 0.0:
            s = ti.sqrt(disc)
            if eps < -b - s < t_max:
                t = -b - s
            elif eps < -b + s < t_max:
                t, far = -b + s, 1
        return t, far

    @ti.func
    def hit_quad(k, o, d, t_max):
        """t of the hit in (eps, t_max) of the quad at pool offset k; INF if none."""
        origin, e1, e2 = vec3(k), vec3(k + 3), vec3(k + 6)
        n = e1.cross(e2)
        denom = d.dot(n)
        t = INF
        if ti.abs(denom) > 1e-20:
            tt = (origin - o).dot(n) / denom
            if eps < tt < t_max:
                w = o + tt * d - origin
                nn = n.dot(n)
                u = w.cross(e2).dot(n) / nn
                v = e1.cross(w).dot(n) / nn
                if 0.0 <= u <= 1.0 and 0.0 <= v <= 1.0:
                    t = tt
        return t

    @ti.func
    def hit_triangle(i, o, d, t_max):
        """Moller-Trumbore."""
        e1, e2 = e1s[i], e2s[i]
        p = d.cross(e2)
        det = e1.dot(p)
        t = INF
        if ti.abs(det) > 1e-20:
            inv = 1.0 / det
            s = o - v0s[i]
            u = s.dot(p) * inv
            q = s.cross(e1)
            v = d.dot(q) * inv
            tt = e2.dot(q) * inv
            if u >= 0.0 and v >= 0.0 and u + v <= 1.0 and eps < tt < t_max:
                t = tt
        return t

    @ti.func
    def hit_box(i, o, inv_d, t_max):
        t0 = (lower[i] - o) * inv_d
        t1 = (upper[i] - o) * inv_d
        near = ti.min(t0, t1).max()
        far = ti.max(t0, t1).min()
        return near <= far and far >= 0.0 and near < t_max

    @ti.func
    def box_entry(i, oid, inv_d, t_max):
        """Where the ray enters box i (clamped at 0), or INF when it misses the box or enters beyond t_max."""
        t0 = lower[i] * inv_d - oid
        t1 = upper[i] * inv_d - oid
        near = ti.max(ti.min(t0, t1).max(), 0.0)
        far = ti.max(t0, t1).min()
        return ti.select(near <= far and near <= t_max, near, INF)

    @ti.func
    def safe_inverse(d):
        inv = ti.Vector([0.0, 0.0, 0.0])
        for a in ti.static(range(3)):
            inv[a] = 1.0 / d[a] if ti.abs(d[a]) > 1e-20 else ti.math.sign(d[a] + 1e-30) * 1e20
        return inv

    @ti.func
    def nearest_sphere(i, k, o, d, best, code, ignore):
        if pack(SPHERE, 0, i) != ignore:
            t, far = hit_sphere(k, o, d, best)
            if t < best:
                best, code = t, pack(SPHERE, far, i)
        return best, code

    @ti.func
    def nearest_quad(i, k, o, d, best, code, ignore):
        if pack(QUAD, 0, i) != ignore:
            t = hit_quad(k, o, d, best)
            if t < best:
                best, code = t, pack(QUAD, 0, i)
        return best, code

    @ti.func
    def nearest_bvh(o, d, best, code):
        """The nearest triangle hit closer than ``best`` (or at ``best``: never replacing the sphere or quad
        ``code`` found there), children nearer first, pruned by the best hit so far."""
        inv_d = safe_inverse(d)
        oid = o * inv_d
        nodes = ti.Vector.zero(ti.i32, stack_size)
        entries = ti.Vector.zero(ti.f32, stack_size)
        best_j = -1  # the triangle hit so far; -1: ties keep ``code``
        top = 0  # entries on the stack
        node = 0
        if box_entry(0, oid, inv_d, best) == INF:
            node = -1
        while node >= 0:
            if count[node] > 0:
                for j in range(first[node], first[node] + count[node]):
                    t = hit_triangle(j, o, d, INF)
                    if t < best or (t == best and 0 <= j < best_j):
                        best, best_j = t, j
                node = -1
            else:
                left = node + 1
                right = skip[left]
                t_left = box_entry(left, oid, inv_d, best)
                t_right = box_entry(right, oid, inv_d, best)
                if t_left < INF and t_right < INF:
                    near, far, t_far = left, right, t_right
                    if t_right < t_left:
                        near, far, t_far = right, left, t_left
                    nodes[top], entries[top] = far, t_far
                    top += 1
                    node = near
                elif t_left < INF:
                    node = left
                elif t_right < INF:
                    node = right
                else:
                    node = -1
            while node < 0 and top > 0:  # the nearest pushed node that may still hold a closer hit
                top -= 1
                if entries[top] <= best:
                    node = nodes[top]
        if best_j >= 0:
            code = pack(TRIANGLE, 0, best_j)
        return best, code

    @ti.func
    def walk_bvh(o, d, best, code, ignore, any_hit: ti.template()):
        """Nearest triangle hit closer than ``best`` (or, with ``any_hit``, stop at the first one), in
        pre-order."""
        inv_d = safe_inverse(d)
        node = 0
        while node < n_nodes:
            if hit_box(node, o, inv_d, best):
                if count[node] > 0:
                    for j in range(first[node], first[node] + count[node]):
                        if pack(TRIANGLE, 0, j) != ignore:
                            t = hit_triangle(j, o, d, best)
                            if t < best:
                                best, code = t, pack(TRIANGLE, 0, j)
                    node = skip[node]
                    if ti.static(any_hit):
                        if code >= 0:
                            node = n_nodes
                else:
                    node += 1
            else:
                node = skip[node]
        return best, code

    @ti.func
    def nearest_analytic(o, d, best, code, ignore):
        """The nearest sphere or quad hit closer than ``best``, leaving out the primitive ``ignore``."""
        if ti.static(unroll_spheres):
            for i in ti.static(range(n_spheres)):
                best, code = nearest_sphere(i, sphere_offsets[i], o, d, best, code, ignore)
        else:
            for i in range(n_spheres):
                best, code = nearest_sphere(i, sphere_offset[i], o, d, best, code, ignore)
        if ti.static(unroll_quads):
            for i in ti.static(range(n_quads)):
                best, code = nearest_quad(i, quad_offsets[i], o, d, best, code, ignore)
        else:
            for i in range(n_quads):
                best, code = nearest_quad(i, quad_offset[i], o, d, best, code, ignore)
        return best, code

    @ti.func
    def nearest(o, d):
        best, code = nearest_analytic(o, d, INF, MISS, MISS)
        if ti.static(n_nodes > 0):
            if ti.static(ordered):
                best, code = nearest_bvh(o, d, best, code)
            else:
                best, code = walk_bvh(o, d, best, code, MISS, False)
        return best, code

    @ti.func
    def occluded(o, d, t_max, origin_code):
        """Whether anything lies along the ray in (eps, t_max), for a ray leaving the surface point of the
        hit record ``origin_code`` towards the side its shading normal faces.

        Such a ray cannot meet its own primitive again when that primitive is flat (a quad, a triangle) or
        a sphere seen from outside (its near root: convex), so that one is not tested: a test saved, and no
        self-shadowing from rounding. Spheres and quads are otherwise all tested (in small scenes a branch
        costs more than the tests it saves); the BVH walk stops at the first hit.
        """
        ignore = ti.select(far_of(origin_code) == 0, origin_code, MISS)
        best, code = nearest_analytic(o, d, t_max, MISS, ignore)
        if ti.static(n_nodes > 0):
            if code < 0:
                best, code = walk_bvh(o, d, best, code, ignore, True)
        return code >= 0

    return nearest, occluded

