"""The scene on the device: a :class:`raydiff.scene.Scene` laid out in Taichi fields.

Every parameter of the scene (:data:`raydiff.scene.parameters.KINDS`: cameras, geometry, materials, lights)
lives in one flat float field, the *pool*, at an offset fixed when the scene is built: element by element,
one entry per kind in the table's order. The kernels read the pool at those offsets, gradients land in
the pool's ``grad``, and the optimiser updates the free entries in place: there is no copying between
"parameters" and "scene".

Reading a field that ``needs_grad`` inside a differentiated kernel costs an atomic add per read in the
backward pass, so each device group of pool entries (``camera``, ``geometry``, ``light``,
``light_power``, ``albedo``, ``material``) is read either from the pool, when something in that group is free, or from
a plain mirror of it, decided once when the kernels are compiled (:meth:`DeviceScene.source`).

Triangle meshes keep their vertices out of the pool: world-space triangles and a threaded BVH (see
:mod:`raydiff.device.meshes`) are fields. When a mesh's pose (scale, rotation, translation: pool entries)
is free, the object-space triangles are kept too, and :mod:`raydiff.kernels.placement` places them and
refits the BVH's boxes before every render.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import taichi as ti

from ..scene.model import Scene, is_texture, material_type
from ..scene.parameters import DEVICE_GROUPS, Resolved, entries, scene_size
from ..scene.placement import placed_faces
from . import meshes
from .fixed_reads import FIXED_GROUPS, FixedReads, PoolView
from . import materials
from .hitrecord import MAX_LIGHTS, MAX_PRIMITIVES
from .upload import SMALL, Uploads
from .bulk import BulkUploads

#: Mesh fields that make up its pose (consecutive in the pool: scale 3, axis 3, angle 1, translate 3).
POSE_FIELDS = ("scale", "rotate.axis", "rotate.angle", "translate")


@dataclass
class Layout:
    """Where every parameter sits in the pool; offsets are Python ints (compile-time constants)."""

    size: int = 0
    values: list[float] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # the device group of each pool entry
    offsets: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def of(self, group: str, name: str, field_name: str) -> int:
        """The offset of ``(group, name, field)``, e.g. ``("objects", "ball", "center")``."""
        return self.offsets[(group, name, field_name)]


def layout_scene(scene: Scene) -> Layout:
    """Assign pool offsets to every parameter of ``scene`` (host side, no Taichi)."""
    lay = Layout()
    for key, kind, value in entries(scene):
        lay.offsets[key] = lay.size
        lay.values += [float(v) for v in value]
        lay.groups += [kind.device_group] * kind.size
        lay.size += kind.size
    return lay


def _consecutive(lay: Layout, group: str, name: str, fields: tuple[str, ...], sizes: tuple[int, ...]) -> int:
    """The offset of the first of ``fields``, checking that the kernels may read them as one block."""
    base = lay.of(group, name, fields[0])
    at = base
    for f, n in zip(fields, sizes):
        assert lay.of(group, name, f) == at, f"{group}.{name}.{f} is not where the kernels read it"
        at += n
    return base


def material_record(lay: Layout, obj, textures: list | None = None) -> int:
    """The material record (:mod:`raydiff.device.materials`) of object ``obj``: its material's type and the
    pool offset of its parameters, which must lie in the kernels' order. A textured object's record is
    ``textured`` with its row in ``textures`` (the texture table, which it joins if it is not there yet:
    ``(pool offset, width, height)``)."""
    if textures is not None and is_texture(obj.albedo) and material_type(obj) == "diffuse":
        row = (lay.of("objects", obj.name, "albedo"), obj.albedo.width, obj.albedo.height)
        if row not in textures:
            textures.append(row)
        return materials.pack("textured", textures.index(row))
    fields = materials.MATERIAL_FIELDS[material_type(obj)]
    names, sizes = tuple(f for f, _ in fields), tuple(n for _, n in fields)
    return materials.pack(material_type(obj), _consecutive(lay, "objects", obj.name, names, sizes))


def _vec_field(data: np.ndarray, dtype=ti.f32, uploads: Uploads | None = None) -> ti.Field:
    """A vector field holding ``data`` (n, 3); Taichi fields cannot be empty, so n = 0 gets one dummy row.
    With ``uploads``, the values are written by its next flush (a large array at once)."""
    n = max(len(data), 1)
    f = ti.Vector.field(3, dtype=dtype, shape=n)
    if len(data):
        _write(f, np.ascontiguousarray(data, dtype=np.float32 if dtype == ti.f32 else np.int32), uploads)
    return f


def _write(f: ti.Field, values: np.ndarray, uploads: Uploads | None) -> None:
    """``f.from_numpy(values)``, or through ``uploads`` when given."""
    if uploads is None:
        f.from_numpy(values)
    else:
        uploads.add(f, values)


def _joined(parts: list[np.ndarray], empty_shape: tuple[int, ...]) -> np.ndarray:
    """The arrays concatenated (the one array itself when there is one: no copy of a large mesh)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(empty_shape)


def _scalar_field(data, dtype, uploads: Uploads | None = None) -> ti.Field:
    data = np.asarray(data)
    n = max(len(data), 1)
    f = ti.field(dtype=dtype, shape=n)
    if len(data):
        _write(f, np.ascontiguousarray(data, dtype=np.float32 if dtype == ti.f32 else np.int32), uploads)
    return f


@dataclass
class CornerFields:
    """Per-corner values of the triangles that have them (:class:`raydiff.device.meshes.CornerAttributes`)
    on the device: ``corners[j][row]`` is corner ``j``'s value (a vector field each), and ``rows[i]`` the
    row of triangle ``i`` (BVH order), -1 for none; ``rows`` is None when the row is the triangle's index."""

    corners: list
    rows: ti.Field | None


def _corner_fields(attributes, order: np.ndarray, uploads: Uploads | None = None) -> CornerFields | None:
    """The :class:`CornerFields` of ``attributes`` (None: None), triangles reordered by ``order`` (the BVH's);
    with ``uploads``, written by its next flush."""
    if attributes is None:
        return None
    values, rows = attributes.values, attributes.rows
    if rows is None:
        values = np.take(values, order, axis=0)  # one row per triangle, in the BVH's order
    dim = values.shape[-1]
    corners = []
    for j in range(3):
        f = ti.Vector.field(dim, dtype=ti.f32, shape=max(len(values), 1))
        if len(values):
            _write(f, np.ascontiguousarray(values[:, j], dtype=np.float32), uploads)
        corners.append(f)
    return CornerFields(corners, None if rows is None else _scalar_field(rows[order], ti.i32, uploads))


class DeviceScene:
    """A scene's fields on the current Taichi backend.

    Parameters
    ----------
    scene : Scene
        The validated description.
    free : list of Resolved
        The free parameters (from :func:`raydiff.scene.parameters.resolve_all`); may be empty for rendering.

    Attributes
    ----------
    pool : ti.field (f32, needs_grad)
        Every parameter; ``pool.grad`` receives the gradients.
    mirror : ti.field (f32)
        A copy of ``pool`` without gradients, read by groups with nothing free.
    free_offsets : np.ndarray of int
        Pool index of every free scalar component, in the order of ``free`` (the history's columns).
    n_views : int
        The number of cameras.
    camera_base : list of int
        Per view, the pool offset of its camera: position (3), look_at (3), up (3), fov (1).
    lights : list of (str, int)
        Per light, its type and the pool offset of its position or direction (3), followed by its
        intensity or irradiance (3).
    moving_meshes : bool
        True when a mesh's pose is free: the kernels place the triangles before every render.
    material_types : set of str
        The material types of the scene's objects (the BSDF compiles a branch for each); ``textured`` for
        a diffuse surface with a texture.
    n_textures, texture_offset, texture_width, texture_height : int, ti.field (i32)
        The texture table: per textured surface, where its texels start in the pool and its size.
    sphere_material, quad_material, tri_material : ti.field (i32)
        Per sphere, quad and (BVH-ordered) triangle, its material record (:mod:`raydiff.device.materials`).
    plastic : raydiff.device.materials.PlasticTables
        The precomputed tables of the rough-plastic surfaces (fixed fields, built with the scene); None
        without any.
    corner_normals : CornerFields or None
        The unit normals at the corners of the triangles of meshes with OBJ normals (smooth shading), in
        world space, or in object space when a mesh's pose is free; None when no mesh has normals.
    corner_texcoords : CornerFields or None
        The texture coordinates at the corners of the triangles of meshes with OBJ ``vt``, as Mitsuba 3
        has them (``(u, 1 - v)``); None when no mesh has them.
    """

    def __init__(self, scene: Scene, free: list[Resolved] | None = None):
        self.scene = scene
        self.free = list(free or [])
        if len(scene.lights) > MAX_LIGHTS:  # the loader refuses such scenes first, naming the file
            raise ValueError(f"the scene has {len(scene.lights)} lights; at most {MAX_LIGHTS} are supported "
                             "(one bit each in the visibility mask)")
        self.layout = lay = layout_scene(scene)
        if lay.size > materials.MAX_POOL:
            raise ValueError(f"the scene has {lay.size} parameters; at most {materials.MAX_POOL} are supported")

        # --- the pool -------------------------------------------------------------------------------
        self.pool = ti.field(ti.f32, shape=lay.size, needs_grad=True)
        self.mirror = ti.field(ti.f32, shape=lay.size)
        self.free_offsets = np.array(
            [lay.offsets[r.key] + i for r in self.free for i in range(r.kind.size)], dtype=np.int64
        )
        self.free_groups = {lay.groups[k] for k in self.free_offsets}
        # The free light scalars' 0-D copies, read by the shading gradient (see device/fixed_reads.py).
        self.fixed_reads = FixedReads(self.pool, [k for k in self.free_offsets if lay.groups[k] in FIXED_GROUPS])
        self.pool_view = PoolView(self.pool, self.fixed_reads)
        # Every small field below is written by one kernel at the end (device/upload.py), not one each.
        uploads = Uploads()
        for f in (self.pool, self.mirror):
            uploads.add(f, np.array(lay.values, dtype=np.float32))

        # --- cameras ----------------------------------------------------------------------------------
        self.n_views = len(scene.cameras)
        self.camera_base = [
            _consecutive(lay, "cameras", c.name, ("position", "look_at", "up", "fov"), (3, 3, 3, 1))
            for c in scene.cameras
        ]
        self.view_weights = [float(c.weight) for c in scene.cameras]

        # --- lights -----------------------------------------------------------------------------------
        self.lights = []
        for light in scene.lights:
            where, power = ("position", "intensity") if light.type == "point" else ("direction", "irradiance")
            self.lights.append((light.type, _consecutive(lay, "lights", light.name, (where, power), (3, 3))))
        self.n_lights = len(self.lights)

        # --- spheres and quads: the pool offsets of their geometry, and their material records ------------------------------
        spheres = [o for o in scene.objects if o.type == "sphere"]
        quads = [o for o in scene.objects if o.type == "quad"]
        self.sphere_geometry = [_consecutive(lay, "objects", s.name, ("center", "radius"), (3, 1)) for s in spheres]
        self.quad_geometry = [
            _consecutive(lay, "objects", q.name, ("origin", "edge1", "edge2"), (3, 3, 3)) for q in quads
        ]
        self.n_spheres, self.n_quads = len(spheres), len(quads)
        if max(self.n_spheres, self.n_quads) >= MAX_PRIMITIVES:
            raise ValueError(f"at most {MAX_PRIMITIVES - 1} spheres or quads are supported")
        self.material_types = {material_type(o) for o in scene.objects}
        textures: list[tuple[int, int, int]] = []  # the texture table: (pool offset, width, height) per row
        self.sphere_offset = _scalar_field(self.sphere_geometry, ti.i32, uploads)
        self.sphere_material = _scalar_field([material_record(lay, s, textures) for s in spheres], ti.i32, uploads)
        self.quad_offset = _scalar_field(self.quad_geometry, ti.i32, uploads)
        self.quad_material = _scalar_field([material_record(lay, q, textures) for q in quads], ti.i32, uploads)
        plastics = [materials.offset_in(material_record(lay, o)) for o in scene.objects
                    if material_type(o) == "roughplastic"]
        self.plastic = materials.PlasticTables(scene, plastics) if plastics else None

        # --- triangles: world space, BVH order; object space too when a pose is free ------------------------
        mesh_objects = [o for o in scene.objects if o.type == "mesh"]
        pose_keys = {("objects", m.name, f) for m in mesh_objects for f in POSE_FIELDS}
        self.moving_meshes = any(r.key in pose_keys for r in self.free)
        world, local, tri_material, tri_mesh, kept = [], [], [], [], []
        self.mesh_pose = []
        for m_index, mesh in enumerate(mesh_objects):
            w, loc, keep = placed_faces(mesh, local=self.moving_meshes)  # object space only where it moves
            world.append(w)
            local.append(loc)
            kept.append(keep)
            tri_material.append(np.full(len(w), material_record(lay, mesh, textures), dtype=np.int32))
            tri_mesh.append(np.full(len(w), m_index, dtype=np.int32))
            self.mesh_pose.append(_consecutive(lay, "objects", mesh.name, POSE_FIELDS, (3, 3, 1, 3)))
        triangles = _joined(world, (0, 3, 3))
        del world
        if len(triangles) >= MAX_PRIMITIVES:
            raise ValueError(f"at most {MAX_PRIMITIVES - 1} triangles are supported")
        bvh = meshes.build_bvh(triangles)
        # A large mesh's fields are written together by one kernel (device/bulk.py), not one from_numpy each.
        bulk = BulkUploads() if 3 * len(triangles) > SMALL else uploads
        triangles = np.take(triangles, bvh.order, axis=0)  # the one copy, in the order the leaves hold them
        self.n_triangles = len(triangles)
        self.n_nodes = len(bvh.skip)
        self.bvh_depth = bvh.depth  # the nearest-hit walk's stack: depth - 1 entries
        self.tri_v0 = _vec_field(triangles[:, 0], uploads=bulk)
        e1 = triangles[:, 1] - triangles[:, 0]
        e2 = triangles[:, 2] - triangles[:, 0]
        del triangles  # (a million triangles: 72 MB)
        self.tri_e1, self.tri_e2 = _vec_field(e1, uploads=bulk), _vec_field(e2, uploads=bulk)
        normal = np.cross(e1, e2)
        del e1, e2
        normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-30)
        self.tri_normal = _vec_field(normal, uploads=bulk)
        del normal
        self.tri_material = _scalar_field(_joined(tri_material, (0,))[bvh.order], ti.i32, bulk)
        self.tri_mesh = _scalar_field(_joined(tri_mesh, (0,))[bvh.order], ti.i32, bulk)
        self.mesh_pose_offset = _scalar_field(self.mesh_pose, ti.i32, uploads)
        if self.moving_meshes:  # object-space corners, placed by a kernel before every render
            local_triangles = np.take(_joined(local, (0, 3, 3)), bvh.order, axis=0)
            self.tri_local = [_vec_field(local_triangles[:, j], uploads=bulk) for j in range(3)]
        counts = [len(t) for t in tri_mesh]
        self.corner_normals = _corner_fields(
            meshes.corner_normals(mesh_objects, kept, counts, object_space=self.moving_meshes), bvh.order, bulk)
        self.corner_texcoords = _corner_fields(meshes.corner_texcoords(mesh_objects, kept, counts), bvh.order, bulk)
        self._texture_table(textures, uploads)
        self.node_lower = _vec_field(bvh.lower, uploads=bulk)
        self.node_upper = _vec_field(bvh.upper, uploads=bulk)
        self.node_skip = _scalar_field(bvh.skip, ti.i32, bulk)
        self.node_first = _scalar_field(bvh.first, ti.i32, bulk)
        self.node_count = _scalar_field(bvh.count, ti.i32, bulk)
        self.node_span = _scalar_field(meshes.subtree_triangle_counts(bvh), ti.i32, bulk)
        if bulk is not uploads:
            bulk.flush()

        self.scale = scene_size(scene)
        self.epsilon = 1e-4 * self.scale  # ray offset against self-intersection
        uploads.flush()

    def _texture_table(self, rows: list[tuple[int, int, int]], uploads: Uploads | None = None) -> None:
        """The texture table's fields (one row per textured surface, see :mod:`raydiff.device.materials`),
        and ``textured`` among the material types when a surface has a texture."""
        self.n_textures = len(rows)
        if rows:
            self.material_types.add("textured")
            if not any(material_type(o) == "diffuse" and not is_texture(o.albedo) for o in self.scene.objects):
                self.material_types.discard("diffuse")  # every diffuse surface is textured
        table = np.array(rows or [(0, 1, 1)], dtype=np.int32)
        self.texture_offset, self.texture_width, self.texture_height = (_scalar_field(table[:, j], ti.i32, uploads)
                                                                        for j in range(3))

    # --- host <-> device ----------------------------------------------------------------------------
    def set_pool(self, values: np.ndarray) -> None:
        """Write the whole pool (and its mirror) from a host array."""
        values = np.ascontiguousarray(values, dtype=np.float32)
        self.pool.from_numpy(values)
        self.mirror.from_numpy(values)

    def pool_values(self) -> np.ndarray:
        """The pool as a host array (one device read)."""
        return self.pool.to_numpy()

    def offsets(self, path: str) -> np.ndarray:
        """The pool offsets of the components of the free parameter ``path``; KeyError if it is not free."""
        i = 0
        for r in self.free:
            if r.path == path:
                return self.free_offsets[i : i + r.kind.size]
            i += r.kind.size
        raise KeyError(path)

    def set_values(self, values: dict) -> None:
        """Write free parameters' values, keyed by dotted path (a subset of :meth:`values`' keys), into the
        pool: one device read and one write, whatever their number. The layout (and so every compiled
        kernel) stays as it is, which is what lets one DeviceScene serve many fits or frames.

        Raises
        ------
        KeyError
            If a path is not a free parameter of this scene.
        ValueError
            If a value has another number of components than its parameter.
        """
        pool = self.pool_values()
        for path, value in values.items():
            at = self.offsets(path)
            value = np.asarray(value, dtype=np.float32).ravel()
            if value.shape != at.shape:
                raise ValueError(f"{path} has {len(at)} component(s), got {value.size}")
            pool[at] = value
        self.set_pool(pool)

    def values(self) -> dict[str, np.ndarray]:
        """The free parameters' current values keyed by dotted path (one device read)."""
        pool = self.pool_values().astype(np.float64)
        return {r.path: pool[self.offsets(r.path)] for r in self.free}

    def source(self, group: str):
        """The field kernels read ``group`` from: the pool if anything in it is free, else the mirror.

        Decided at compile time; use as ``ti.static(dev.source("albedo"))``.
        """
        assert group in DEVICE_GROUPS, group
        return self.pool_view if group in self.free_groups else self.mirror
