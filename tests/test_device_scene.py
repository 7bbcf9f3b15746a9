"""Tests for raydiff.device.scene.DeviceScene: what it refuses before it allocates a single field."""

from __future__ import annotations

import pytest

from raydiff.device import hitrecord
from raydiff.device.scene import DeviceScene
from raydiff.scene import description
from raydiff.scene.model import Camera, Film, PointLight, Scene, Sphere


def test_the_loader_and_the_visibility_mask_agree_on_the_number_of_lights():
    assert description.MAX_LIGHTS == hitrecord.MAX_LIGHTS < 32  # bit 31 of an int32 is its sign


def test_a_scene_built_in_python_with_too_many_lights_is_refused_before_any_field():
    """No backend is initialised here: the check comes before the first Taichi field."""
    lights = tuple(PointLight(f"l{i}", (0.0, 5.0, 0.0), (1.0, 1.0, 1.0)) for i in range(hitrecord.MAX_LIGHTS + 1))
    scene = Scene(camera=Camera((0.0, 0.0, 5.0), (0.0, 0.0, 0.0)), film=Film(8, 6),
                  objects=(Sphere("ball", (0.0, 0.0, 0.0), 1.0),), lights=lights)
    with pytest.raises(ValueError, match="the scene has 32 lights; at most 31 are supported"):
        DeviceScene(scene)


def test_set_values_writes_free_parameters_and_nothing_else(cpu):
    import numpy as np

    from raydiff.scene.parameters import resolve_all

    scene = description.load_scene_string(
        "camera: {position: [0, 0, 5], look_at: [0, 0, 0]}\nfilm: {width: 8, height: 6}\n"
        "objects: [{name: ball, type: sphere, center: [0, 0, 0], radius: 1}]\n"
        "lights: [{name: key, type: point, position: [0, 4, 0], intensity: [5, 5, 5]}]\n"
        "optimize: {lights.key.position: {}}\n")
    dev = DeviceScene(scene, resolve_all(scene))
    before = dev.pool_values()
    dev.set_values({"lights.key.position": [1.0, 2.0, 3.0]})
    assert dev.values()["lights.key.position"].tolist() == [1.0, 2.0, 3.0]
    changed = np.flatnonzero(dev.pool_values() != before)
    assert set(changed) <= set(dev.offsets("lights.key.position"))
    with pytest.raises(KeyError):
        dev.set_values({"objects.ball.radius": [2.0]})
    with pytest.raises(ValueError, match="3 component"):
        dev.set_values({"lights.key.position": [1.0]})


def test_a_large_mesh_is_written_by_one_kernel_with_the_values_of_the_small_path(cpu, monkeypatch):
    """A mesh whose arrays are too large for the joined small-field kernel goes through device/bulk.py: the
    fields hold the triangles in the BVH's order, their edges and normals, the BVH, the object-space
    corners of a free pose and the corners' OBJ normals and texture coordinates, as the small path writes them."""
    import numpy as np

    from raydiff.device import bulk, meshes
    from raydiff.scene.model import FreeParameter, Mesh, Rotation
    from raydiff.scene.parameters import resolve_all
    from raydiff.scene.placement import placed_faces

    n = 90  # a 90 x 90 grid of quads, two triangles each: 16,200 triangles
    u, v = np.meshgrid(np.linspace(-1, 1, n + 1), np.linspace(-1, 1, n + 1), indexing="ij")
    vertices = np.stack([u, 0.1 * np.sin(3 * u) * v, v], axis=-1).reshape(-1, 3)
    a = (np.arange(n)[:, None] * (n + 1) + np.arange(n)).ravel()
    faces = np.concatenate([np.stack([a, a + n + 1, a + n + 2], 1), np.stack([a, a + n + 2, a + 1], 1)])
    normals = np.stack([-0.3 * np.cos(3 * u) * v, np.ones_like(u), -0.1 * np.sin(3 * u)], axis=-1).reshape(-1, 3)
    mesh = Mesh(name="sheet", file="sheet.obj", file_as_written="sheet.obj", vertices=vertices, faces=faces,
                rotate=Rotation(axis=(1, 0, 0), angle=20), translate=(0, 0.5, 0),
                normals=normals, normal_faces=faces, texcoords=vertices[:, [0, 2]], texcoord_faces=faces)
    base = description.load_scene_string(
        "camera: {position: [0, 1, 4], look_at: [0, 0, 0]}\nfilm: {width: 8, height: 6}\n"
        "objects: [{name: ball, type: sphere, center: [0, 0, 0], radius: 0.1}]\n"
        "lights: [{name: key, type: point, position: [0, 4, 0], intensity: [5, 5, 5]}]\n")
    scene = Scene(camera=base.camera, film=base.film, objects=(mesh,), lights=base.lights,
                  optimize=(FreeParameter("objects.sheet.translate"),))
    monkeypatch.setattr("raydiff.device.scene.SMALL", 3 * len(faces) - 1)  # this mesh counts as large
    flushed = []
    flush = bulk.BulkUploads.flush
    monkeypatch.setattr(bulk.BulkUploads, "flush", lambda self: flushed.append(len(self._waiting)) or flush(self))
    dev = DeviceScene(scene, resolve_all(scene))
    assert flushed == [21]  # 4 triangle vectors, 2 ints, 3 object-space corners, 3 normals, 3 uv, 6 node arrays

    world, local, _ = placed_faces(mesh)
    bvh = meshes.build_bvh(world)
    tri = world[bvh.order]
    np.testing.assert_array_equal(dev.tri_v0.to_numpy(), tri[:, 0].astype(np.float32))
    np.testing.assert_array_equal(dev.tri_e1.to_numpy(), (tri[:, 1] - tri[:, 0]).astype(np.float32))
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    np.testing.assert_array_equal(dev.tri_normal.to_numpy(), normal.astype(np.float32))
    np.testing.assert_array_equal(dev.tri_local[2].to_numpy(), local[bvh.order][:, 2].astype(np.float32))
    np.testing.assert_array_equal(dev.node_lower.to_numpy(), bvh.lower)
    np.testing.assert_array_equal(dev.node_skip.to_numpy(), bvh.skip)
    np.testing.assert_array_equal(dev.node_span.to_numpy(), meshes.subtree_triangle_counts(bvh))
    assert (dev.tri_mesh.to_numpy() == 0).all()
    kept = [None]
    smooth = meshes.corner_normals([mesh], kept, [len(tri)], object_space=True).values[bvh.order]
    uv = meshes.corner_texcoords([mesh], kept, [len(tri)]).values[bvh.order]
    np.testing.assert_array_equal(dev.corner_normals.corners[1].to_numpy(), smooth[:, 1])
    np.testing.assert_array_equal(dev.corner_texcoords.corners[2].to_numpy(), uv[:, 2])
