"""The hit's geometry, recomputed differentiably from what the visibility pass recorded.

Given a ray and a hit record (which primitive, which root), return the hit point, the shading normal
(facing the ray's origin: surfaces are two-sided), the surface's material record
(:mod:`raydiff.device.materials`: its type and the pool offset of its parameters) and the hit's uv, as
Mitsuba 3 defines it: on a sphere ``(phi / 2 pi, theta / pi)`` of the direction from the centre (theta
from +z, phi from +x towards +y, in [0, 2 pi)); on a quad ``origin + u edge1 + v edge2`` (Mitsuba's
``rectangle`` mapped onto the quad as tests/mitsuba_oracle.py maps it); on a triangle what
:func:`triangle_uv` says. Only
straight-line code and branches on the primitive kind: no loops, so Taichi's autodiff needs no adstack
and the kernel runs differentiated on every backend, Vulkan included.

Spheres and quads are read from the pool, so gradients reach their centre, radius, corner and edges. A
triangle is read from the placed world-space fields while its mesh's pose is constant; once a pose is
free, the triangle's object-space corners are placed here again from the pool (:func:`place`), so that
gradients reach the mesh's scale, rotation and translation.

A triangle of a mesh with OBJ normals is shaded smooth, as Mitsuba 3 shades an OBJ with normals: the
shading normal is its corners' normals interpolated at the hit's barycentric coordinates and made unit
length (:func:`make_smooth_normal`), the barycentrics recomputed differentiably from the hit point; the
hit point itself, shadow rays and visibility stay those of the flat triangle. :func:`make_triangle_uv`
gives a triangle hit's texture coordinates the same way.
"""


import taichi as ti

from ..device.hitrecord import QUAD, SPHERE, far_of, index_of, kind_of
from ..device.scene import DeviceScene


@ti.func
def rotate(p, axis, angle_degrees):
    """``p`` rotated by ``angle_degrees`` about ``axis`` (right-handed; Rodrigues' formula).

    ``axis`` need not be unit length (it is normalised here, so its gradient is tangent to the sphere of
    directions); a zero axis gives the identity only for a zero angle, as the scene loader demands.
    """
    a = axis / ti.sqrt(axis.dot(axis) + 1e-30)
    theta = angle_degrees * (ti.math.pi / 180.0)
    c, s = ti.cos(theta), ti.sin(theta)
    return p * c + a.cross(p) * s + a * (a.dot(p) * (1.0 - c))


def make_place(src):
    """``place(k, local) -> world``: an object-space point placed by the pose at pool offset ``k`` of
    ``src`` (scale 3, rotation axis 3, angle 1, translation 3): scale, then rotate, then translate."""

    @ti.func
    def vec3(k):
        return ti.Vector([src[k], src[k + 1], src[k + 2]])

    @ti.func
    def place(k, local):
        return rotate(local * vec3(k), vec3(k + 3), src[k + 6]) + vec3(k + 7)

    return place


@ti.func
def sphere_uv(local):
    """Mitsuba's uv of the unit direction ``local`` from a sphere's centre: ``(phi / 2 pi, theta / pi)``.
    theta by atan2 rather than acos, whose derivative is infinite at the poles."""
    rho = ti.sqrt(local[0] * local[0] + local[1] * local[1] + 1e-30)
    phi = ti.atan2(local[1], local[0])
    phi = ti.select(phi < 0.0, phi + 2.0 * ti.math.pi, phi)
    theta = ti.atan2(rho, local[2])
    return ti.math.vec2(phi * (0.5 / ti.math.pi), theta * (1.0 / ti.math.pi))


@ti.func
def quad_uv(p, origin, e1, e2, nq):
    """``(u, v)`` with ``p = origin + u e1 + v e2`` for ``p`` on the quad's plane (``nq = e1 x e2``)."""
    q = p - origin
    inv = 1.0 / nq.dot(nq)
    return ti.math.vec2(q.dot(e2.cross(nq)) * inv, q.dot(nq.cross(e1)) * inv)


def make_place_normal(src):
    """``place_normal(k, n) -> world``: an object-space normal placed by the pose at pool offset ``k`` of
    ``src`` as Mitsuba 3 transforms normals: by the inverse transpose of the scale (``n / scale``), then the
    rotation, made unit length."""

    @ti.func
    def vec3(k):
        return ti.Vector([src[k], src[k + 1], src[k + 2]])

    @ti.func
    def place_normal(k, n):
        m = rotate(n / vec3(k), vec3(k + 3), src[k + 6])
        return m / ti.sqrt(m.dot(m) + 1e-30)

    return place_normal


def make_barycentrics(dev: DeviceScene):
    """``barycentrics(i, p) -> (b1, b2)``: the barycentric coordinates of point ``p`` on triangle ``i``
    (``p = v0 + b1 e1 + b2 e2``, ``p`` projected onto the triangle's plane), differentiable in ``p`` and
    in the triangle (placed from its mesh's pose when one is free)."""
    geo = dev.source("geometry")
    place = make_place(geo)
    moving = dev.moving_meshes
    v0s, e1s, e2s = dev.tri_v0, dev.tri_e1, dev.tri_e2
    local0, local1, local2 = dev.tri_local if moving else (None, None, None)
    tri_mesh, pose_offset = dev.tri_mesh, dev.mesh_pose_offset

    @ti.func
    def barycentrics(i, p):
        v0, e1, e2 = v0s[i], e1s[i], e2s[i]
        if ti.static(moving):
            k = pose_offset[tri_mesh[i]]
            v0 = place(k, local0[i])
            e1, e2 = place(k, local1[i]) - v0, place(k, local2[i]) - v0
        r = p - v0
        a11, a12, a22 = e1.dot(e1), e1.dot(e2), e2.dot(e2)
        r1, r2 = e1.dot(r), e2.dot(r)
        inverse = 1.0 / (a11 * a22 - a12 * a12)  # kept triangles have an area
        return ti.Vector([(a22 * r1 - a12 * r2) * inverse, (a11 * r2 - a12 * r1) * inverse])

    return barycentrics


@ti.func
def interpolate(c0, c1, c2, b):
    """The corner values ``c0``, ``c1``, ``c2`` interpolated at barycentrics ``b = (b1, b2)``."""
    return c0 + b[0] * (c1 - c0) + b[1] * (c2 - c0)


def make_smooth_normal(dev: DeviceScene):
    """``smooth_normal(i, p, n) -> n``: the shading normal at point ``p`` of triangle ``i``, given its unit
    geometric normal ``n``: for a triangle of a mesh with OBJ normals, its corners' normals interpolated at
    ``p``'s barycentrics and made unit length (Mitsuba 3's ``sh_frame.n`` of a mesh with vertex normals),
    else ``n``. None when no mesh of the scene has normals (the surface then compiles as before)."""
    fields = dev.corner_normals
    if fields is None:
        return None
    geo = dev.source("geometry")
    place_normal = make_place_normal(geo)
    moving = dev.moving_meshes
    barycentrics = make_barycentrics(dev)
    corners, rows = fields.corners, fields.rows
    indexed = rows is not None
    tri_mesh, pose_offset = dev.tri_mesh, dev.mesh_pose_offset

    @ti.func
    def smooth_normal(i, p, n):
        row = i
        if ti.static(indexed):
            row = rows[i]
        shading = n
        if row >= 0:
            b = barycentrics(i, p)
            n0, n1, n2 = corners[0][row], corners[1][row], corners[2][row]
            if ti.static(moving):  # each corner's normal placed, then interpolated, as Mitsuba places them
                k = pose_offset[tri_mesh[i]]
                n0, n1, n2 = place_normal(k, n0), place_normal(k, n1), place_normal(k, n2)
            m = interpolate(n0, n1, n2, b)
            shading = m / ti.sqrt(m.dot(m) + 1e-30)
        return shading

    return smooth_normal


def make_triangle_uv(dev: DeviceScene):
    """``triangle_uv(i, p) -> uv``: the texture coordinates (a 2-vector) of point ``p`` on triangle ``i``,
    differentiable in ``p`` and the mesh's pose, as Mitsuba 3 defines them for a mesh: the corners' OBJ
    ``vt`` as ``(u, 1 - v)`` (Mitsuba's ``flip_tex_coords``) interpolated at ``p``'s barycentrics, and for
    a mesh without ``vt`` the barycentrics ``(b1, b2)`` themselves (Mitsuba's parameterisation then).

    The textures (issue 9) look an image up at this uv on a mesh hit; ``p`` is the hit point that
    ``surface`` returns for the hit record of triangle ``i``.
    """
    barycentrics = make_barycentrics(dev)
    fields = dev.corner_texcoords
    corners = None if fields is None else fields.corners
    rows = None if fields is None else fields.rows
    textured, indexed = corners is not None, rows is not None

    @ti.func
    def triangle_uv(i, p):
        uv = barycentrics(i, p)
        if ti.static(textured):
            row = i
            if ti.static(indexed):
                row = rows[i]
            if row >= 0:
                uv = interpolate(corners[0][row], corners[1][row], corners[2][row], uv)
        return uv

    return triangle_uv


def make_surface(dev: DeviceScene):
    """Build ``surface(o, d, code) -> (p, n, material, uv)`` for this scene; ``uv`` is the hit's texture
    coordinates when the scene has a texture, else (0, 0)."""
    geo = dev.source("geometry")
    sphere_offset, sphere_material = dev.sphere_offset, dev.sphere_material
    quad_offset, quad_material = dev.quad_offset, dev.quad_material
    v0s, normals, tri_material = dev.tri_v0, dev.tri_normal, dev.tri_material
    moving = dev.moving_meshes
    place = make_place(geo)
    local0, local1, local2 = dev.tri_local if moving else (None, None, None)
    tri_mesh, pose_offset = dev.tri_mesh, dev.mesh_pose_offset
    smooth_normal = make_smooth_normal(dev)
    smooth = smooth_normal is not None
    triangle_uv = make_triangle_uv(dev)
    textured = dev.n_textures > 0  # uv only where a texture reads it (else it stays (0, 0))

    @ti.func
    def vec3(k):
        return ti.Vector([geo[k], geo[k + 1], geo[k + 2]])

    @ti.func
    def triangle_plane(i):
        """A point on triangle ``i`` and its (unnormalised) geometric normal."""
        v0, nt = v0s[i], normals[i]
        if ti.static(moving):
            k = pose_offset[tri_mesh[i]]
            v0 = place(k, local0[i])
            nt = (place(k, local1[i]) - v0).cross(place(k, local2[i]) - v0)
        return v0, nt

    @ti.func
    def surface(o, d, code):
        kind, i = kind_of(code), index_of(code)
        p = ti.Vector([0.0, 0.0, 0.0])
        n = ti.Vector([0.0, 0.0, 1.0])
        material = 0
        uv = ti.math.vec2(0.0, 0.0)
        if kind == SPHERE:
            k = sphere_offset[i]
            center, r = vec3(k), geo[k + 3]
            oc = o - center
            b = oc.dot(d)
            # max(., 0) + tiny: at a silhouette the recorded hit may be a grazing miss in float32
            s = ti.sqrt(ti.max(b * b - (oc.dot(oc) - r * r), 0.0) + 1e-12)
            t = -b + ti.select(far_of(code) == 1, s, -s)
            p = o + t * d
            n = (p - center) / r
            material = sphere_material[i]
            if ti.static(textured):
                uv = sphere_uv(n)
        elif kind == QUAD:
            k = quad_offset[i]
            origin, e1, e2 = vec3(k), vec3(k + 3), vec3(k + 6)
            nq = e1.cross(e2)
            t = (origin - o).dot(nq) / d.dot(nq)
            p = o + t * d
            n = nq.normalized()
            material = quad_material[i]
            if ti.static(textured):
                uv = quad_uv(p, origin, e1, e2, nq)
        else:  # a triangle: the ray meets its plane
            v0, nt = triangle_plane(i)
            t = (v0 - o).dot(nt) / d.dot(nt)
            p = o + t * d
            n = nt.normalized()
            if ti.static(smooth):
                n = smooth_normal(i, p, n)
            material = tri_material[i]
            if ti.static(textured):
                uv = triangle_uv(i, p)
        n = ti.select(n.dot(d) > 0.0, -n, n)  # two-sided: face the viewer
        return p, n, material, uv

    return surface
