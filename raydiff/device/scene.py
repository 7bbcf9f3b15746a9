"""The scene on the device: a :class:`raydiff.scene.Scene` laid out in Taichi fields.

Every differentiable scalar of the scene (camera, sphere and quad geometry, albedos, light positions and
intensities) lives in one flat float field, the *pool*, at an offset fixed when the scene is built. The
shading kernel reads the pool at those offsets, gradients land in the pool's ``grad``, and the optimiser
updates the free entries of the pool in place: there is no copying between "parameters" and "scene".

Reading a field that ``needs_grad`` inside a differentiated kernel costs an atomic add per read in the
backward pass, so each group of pool entries (camera, geometry, light positions, light intensities,
albedos) is read either from the pool, when something in that group is free, or from a plain mirror of
it, decided once when the kernels are compiled (:meth:`DeviceScene.source`).

Triangle meshes are not in the pool: their world-space triangles and a threaded BVH (see
:mod:`raydiff.meshes`) are stored as constant fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import taichi as ti

from . import meshes
from ..scene.parameters import Resolved
from ..scene.model import Mesh, Quad, Scene, Sphere

GROUPS = ("camera", "geometry", "light_position", "light_intensity", "albedo")

# A hit record packs what the visibility pass found into one int32: the primitive kind in bits 29-30,
# the root flag (the sphere's far root) in bit 28 and the primitive's index in bits 0-27; -1 is a miss.
KIND_SPHERE, KIND_QUAD, KIND_TRIANGLE = 1, 2, 3
INDEX_BITS = 28
MAX_LIGHTS = 31  # one bit each in the visibility mask


@dataclass
class Layout:
    """Where everything sits in the pool; all offsets are Python ints (compile-time constants)."""

    size: int = 0
    values: list[float] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # the group of each pool entry
    camera: int = -1  # position(3) look_at(3) up(3) fov_degrees(1)
    object_albedo: dict[str, int] = field(default_factory=dict)
    sphere: list[int] = field(default_factory=list)  # center(3) radius(1)
    quad: list[int] = field(default_factory=list)  # origin(3) edge1(3) edge2(3)
    light_position: list[int] = field(default_factory=list)
    light_intensity: list[int] = field(default_factory=list)

    def add(self, group: str, values) -> int:
        offset = self.size
        flat = [float(v) for v in np.ravel(values)]
        self.values += flat
        self.groups += [group] * len(flat)
        self.size += len(flat)
        return offset


def layout_scene(scene: Scene) -> Layout:
    """Assign pool offsets to every differentiable scalar of ``scene`` (host side, no Taichi)."""
    lay = Layout()
    c = scene.camera
    lay.camera = lay.add("camera", [*c.position, *c.look_at, *c.up, c.fov])
    for obj in scene.objects:
        lay.object_albedo[obj.name] = lay.add("albedo", obj.albedo)
        if isinstance(obj, Sphere):
            lay.sphere.append(lay.add("geometry", [*obj.center, obj.radius]))
        elif isinstance(obj, Quad):
            lay.quad.append(lay.add("geometry", [*obj.origin, *obj.edge1, *obj.edge2]))
    for light in scene.lights:
        lay.light_position.append(lay.add("light_position", light.position))
        lay.light_intensity.append(lay.add("light_intensity", light.intensity))
    return lay


def pool_offset(lay: Layout, scene: Scene, path: str) -> int:
    """The pool offset of the parameter at a dotted path such as ``lights.key.position``."""
    group, name, field_name = path.split(".")
    if group == "lights":
        i = [light.name for light in scene.lights].index(name)
        return {"position": lay.light_position, "intensity": lay.light_intensity}[field_name][i]
    if field_name == "albedo":
        return lay.object_albedo[name]
    raise KeyError(path)  # parameters.resolve has already refused anything else


def _scene_scale(scene: Scene, triangles: np.ndarray) -> float:
    """The size of the scene's bounding box (for ray epsilons)."""
    pts = [np.array(scene.camera.position)] + [np.array(light.position) for light in scene.lights]
    for obj in scene.objects:
        if isinstance(obj, Sphere):
            pts += [np.array(obj.center) - obj.radius, np.array(obj.center) + obj.radius]
        elif isinstance(obj, Quad):
            o, e1, e2 = (np.array(v) for v in (obj.origin, obj.edge1, obj.edge2))
            pts += [o, o + e1, o + e2, o + e1 + e2]
    if len(triangles):
        pts += list(triangles.reshape(-1, 3))
    pts = np.array(pts)
    return float(max(np.linalg.norm(pts.max(0) - pts.min(0)), 1e-3))


def _vec_field(data: np.ndarray, dtype=ti.f32) -> ti.Field:
    """A vector field holding ``data`` (n, 3); Taichi fields cannot be empty, so n = 0 gets one dummy row."""
    n = max(len(data), 1)
    f = ti.Vector.field(3, dtype=dtype, shape=n)
    if len(data):
        f.from_numpy(np.ascontiguousarray(data, dtype=np.float32 if dtype == ti.f32 else np.int32))
    return f


def _scalar_field(data: np.ndarray, dtype) -> ti.Field:
    n = max(len(data), 1)
    f = ti.field(dtype=dtype, shape=n)
    if len(data):
        f.from_numpy(np.ascontiguousarray(data, dtype=np.float32 if dtype == ti.f32 else np.int32))
    return f


class DeviceScene:
    """A scene's fields on the current Taichi backend.

    Parameters
    ----------
    scene : Scene
        The validated description.
    free : list of Resolved
        The free parameters (from :func:`raydiff.parameters.resolve_all`); may be empty for rendering.

    Attributes
    ----------
    pool : ti.field (f32, needs_grad)
        Every differentiable scalar; ``pool.grad`` receives the gradients.
    mirror : ti.field (f32)
        A copy of ``pool`` without gradients, read by groups with nothing free.
    free_offsets : np.ndarray of int
        Pool index of every free scalar component, in the order of ``free`` (the history's columns).
    """

    def __init__(self, scene: Scene, free: list[Resolved] | None = None):
        self.scene = scene
        self.free = list(free or [])
        if len(scene.lights) > MAX_LIGHTS:
            raise ValueError(f"at most {MAX_LIGHTS} lights are supported")
        self.layout = lay = layout_scene(scene)
        self.n_spheres = len(lay.sphere)
        self.n_quads = len(lay.quad)
        self.n_lights = len(scene.lights)

        # --- the pool -------------------------------------------------------------------------------
        self.pool = ti.field(ti.f32, shape=lay.size, needs_grad=True)
        self.mirror = ti.field(ti.f32, shape=lay.size)
        self.free_offsets = np.array(
            [pool_offset(lay, scene, r.path) + i for r in self.free for i in range(r.kind.size)], dtype=np.int64
        )
        self.free_groups = {lay.groups[k] for k in self.free_offsets}
        self.set_pool(np.array(lay.values, dtype=np.float32))

        # --- primitives -----------------------------------------------------------------------------
        albedo_of = lay.object_albedo
        spheres = [o for o in scene.objects if isinstance(o, Sphere)]
        quads = [o for o in scene.objects if isinstance(o, Quad)]
        self.sphere_offset = _scalar_field(np.array(lay.sphere), ti.i32)
        self.sphere_albedo = _scalar_field(np.array([albedo_of[s.name] for s in spheres]), ti.i32)
        self.quad_offset = _scalar_field(np.array(lay.quad), ti.i32)
        self.quad_albedo = _scalar_field(np.array([albedo_of[q.name] for q in quads]), ti.i32)

        tris, tri_albedo = [], []
        for obj in scene.objects:
            if isinstance(obj, Mesh):
                t = meshes.mesh_triangles(obj)
                tris.append(t)
                tri_albedo += [albedo_of[obj.name]] * len(t)
        triangles = np.concatenate(tris) if tris else np.zeros((0, 3, 3))
        tri_albedo = np.array(tri_albedo, dtype=np.int32)
        bvh = meshes.build_bvh(triangles)
        triangles, tri_albedo = triangles[bvh.order], tri_albedo[bvh.order]
        self.n_triangles = len(triangles)
        self.n_nodes = len(bvh.skip)
        v0 = triangles[:, 0] if len(triangles) else np.zeros((0, 3))
        e1 = triangles[:, 1] - v0 if len(triangles) else np.zeros((0, 3))
        e2 = triangles[:, 2] - v0 if len(triangles) else np.zeros((0, 3))
        normal = np.cross(e1, e2)
        normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-30)
        self.tri_v0, self.tri_e1, self.tri_e2 = _vec_field(v0), _vec_field(e1), _vec_field(e2)
        self.tri_normal = _vec_field(normal)
        self.tri_albedo = _scalar_field(tri_albedo, ti.i32)
        self.node_lower = _vec_field(bvh.lower)
        self.node_upper = _vec_field(bvh.upper)
        self.node_skip = _scalar_field(bvh.skip, ti.i32)
        self.node_first = _scalar_field(bvh.first, ti.i32)
        self.node_count = _scalar_field(bvh.count, ti.i32)

        self.scale = _scene_scale(scene, triangles)
        self.epsilon = 1e-4 * self.scale  # ray offset against self-intersection

    # --- host <-> device ----------------------------------------------------------------------------
    def set_pool(self, values: np.ndarray) -> None:
        """Write the whole pool (and its mirror) from a host array."""
        values = np.ascontiguousarray(values, dtype=np.float32)
        self.pool.from_numpy(values)
        self.mirror.from_numpy(values)

    def pool_values(self) -> np.ndarray:
        """The pool as a host array (one device read)."""
        return self.pool.to_numpy()

    def values(self) -> dict[str, np.ndarray]:
        """The free parameters' current values keyed by dotted path (one device read)."""
        pool = self.pool_values().astype(np.float64)
        out, i = {}, 0
        for r in self.free:
            out[r.path] = pool[self.free_offsets[i : i + r.kind.size]]
            i += r.kind.size
        return out

    def source(self, group: str):
        """The field kernels read ``group`` from: the pool if anything in it is free, else the mirror.

        Decided at compile time; use as ``ti.static(dev.source("albedo"))``.
        """
        assert group in GROUPS
        return self.pool if group in self.free_groups else self.mirror
