"""Tests for raydiff.kernels.surface's smooth shading and texture coordinates (issue 9: OBJ vn and vt).

A scene of three meshes (one with normals and texture coordinates, one with normals only, one with
neither, so that the per-triangle row index is used) is evaluated at barycentric points of every
triangle, and the kernels' shading normal and uv are compared with numpy's: the corners' world normals
(the inverse transpose of the scale, then the rotation, unit length) interpolated and made unit length;
the corners' ``(u, 1 - v)`` interpolated, or the barycentrics on a mesh without ``vt`` (Mitsuba 3's
conventions). With a free pose the kernels place the normals themselves: the answers must not change.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import taichi as ti

from raydiff.device.scene import DeviceScene
from raydiff.kernels.surface import make_smooth_normal, make_triangle_uv
from raydiff.scene.model import Camera, Film, PointLight, Rotation, Scene
from raydiff.scene.parameters import resolve_all

import scene_builders as scenes

#: The barycentric points (b1, b2) evaluated on every triangle: its corners, its centroid and two others.
POINTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1 / 3, 1 / 3], [0.2, 0.7], [0.6, 0.1]])


def three_meshes() -> Scene:
    """A scaled and rotated smooth mesh with uvs, a rotated one with normals only, and a flat one; the first's
    rotation angle and scale free (used where the pose is to be free)."""
    full = scenes.uv_sphere_mesh("full", (0.0, 0.0, 0.0), 1.0, scale=(1.0, 0.6, 1.4),
                                 rotate=Rotation((0.3, 1.0, -0.2), 40.0))
    normals_only = replace(scenes.uv_sphere_mesh("normals", (3.0, 0.0, 0.0), 0.8, rotate=Rotation((1.0, 0.0, 0.0), 30.0)),
                           texcoords=None, texcoord_faces=None)
    flat = scenes.uv_sphere_mesh("flat", (-3.0, 0.0, 0.0), 0.7, smooth=False)
    scene = Scene(camera=Camera((0.0, 0.0, 8.0), (0.0, 0.0, 0.0)), film=Film(8, 6),
                  objects=(full, normals_only, flat), lights=(PointLight("key", (0.0, 5.0, 5.0), (1.0, 1.0, 1.0)),))
    return scenes.with_optimize(scene, "objects.full.rotate.angle", "objects.full.scale")


def evaluate(dev: DeviceScene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (BVH-ordered) triangle and point of POINTS: the world point, the kernels' shading normal and uv."""
    smooth_normal, triangle_uv = make_smooth_normal(dev), make_triangle_uv(dev)
    n, m = dev.n_triangles, len(POINTS)
    bary = ti.Vector.field(2, ti.f32, shape=m)
    bary.from_numpy(POINTS.astype(np.float32))
    shading = ti.Vector.field(3, ti.f32, shape=(n, m))
    uv = ti.Vector.field(2, ti.f32, shape=(n, m))
    v0s, e1s, e2s, normals = dev.tri_v0, dev.tri_e1, dev.tri_e2, dev.tri_normal

    @ti.kernel
    def run():
        for i, k in shading:
            p = v0s[i] + bary[k][0] * e1s[i] + bary[k][1] * e2s[i]
            shading[i, k] = smooth_normal(i, p, normals[i])
            uv[i, k] = triangle_uv(i, p)

    run()
    v0 = dev.tri_v0.to_numpy()[:n].astype(np.float64)
    points = v0[:, None] + POINTS[None, :, :1] * dev.tri_e1.to_numpy()[:n, None] + POINTS[None, :, 1:] * dev.tri_e2.to_numpy()[:n, None]
    return points, shading.to_numpy(), uv.to_numpy()


def expected(scene: Scene, dev: DeviceScene) -> tuple[np.ndarray, np.ndarray]:
    """numpy's shading normal and uv for the same triangles and points (each BVH triangle matched to its
    mesh's face by its centroid)."""
    from mitsuba_oracle import mesh_world_normals, mesh_world_vertices

    n = dev.n_triangles
    v0 = dev.tri_v0.to_numpy()[:n].astype(np.float64)
    centroids = v0 + (dev.tri_e1.to_numpy()[:n] + dev.tri_e2.to_numpy()[:n]) / 3.0
    normals = np.zeros((n, len(POINTS), 3))
    uvs = np.zeros((n, len(POINTS), 2))
    geometric = dev.tri_normal.to_numpy()[:n]
    b1, b2 = POINTS[:, 0], POINTS[:, 1]
    weights = np.stack([1.0 - b1 - b2, b1, b2], axis=-1)  # (points, corners)
    mesh_of = dev.tri_mesh.to_numpy()[:n]
    for m_index, mesh in enumerate(o for o in scene.objects if o.type == "mesh"):
        world = mesh_world_vertices(mesh)[mesh.faces]
        face_centroids = world.mean(axis=1)
        for i in np.flatnonzero(mesh_of == m_index):
            f = int(np.argmin(np.linalg.norm(face_centroids - centroids[i], axis=1)))
            assert np.allclose(world[f, 0], v0[i], atol=1e-5)  # the same corner first: the same barycentrics
            if mesh.smooth:
                corner = mesh_world_normals(mesh)[mesh.normal_faces[f]]
                interpolated = weights @ corner
                normals[i] = interpolated / np.linalg.norm(interpolated, axis=-1, keepdims=True)
            else:
                normals[i] = geometric[i]
            if mesh.texcoord_faces is not None:
                corner_uv = mesh.texcoords[mesh.texcoord_faces[f]] * [1.0, -1.0] + [0.0, 1.0]
                uvs[i] = weights @ corner_uv
            else:
                uvs[i] = POINTS
    return normals, uvs


@pytest.mark.parametrize("moving", [False, True], ids=["static", "free_pose"])
def test_shading_normals_and_uvs_are_mitsubas_interpolations(cpu, moving):
    scene = three_meshes()
    dev = DeviceScene(scene, resolve_all(scene) if moving else [])
    assert dev.moving_meshes == moving
    assert dev.corner_normals.rows is not None and dev.corner_texcoords.rows is not None  # mixed meshes
    _, shading, uv = evaluate(dev)
    normals, uvs = expected(scene, dev)
    np.testing.assert_allclose(shading, normals, atol=2e-5)
    np.testing.assert_allclose(uv, uvs, atol=2e-5)


def test_one_smooth_mesh_needs_no_row_index(cpu):
    scene = replace(three_meshes(), optimize=())
    scene = replace(scene, objects=scene.objects[:1])
    dev = DeviceScene(scene)
    assert dev.corner_normals.rows is None and dev.corner_texcoords.rows is None
    _, shading, uv = evaluate(dev)
    normals, uvs = expected(scene, dev)
    np.testing.assert_allclose(shading, normals, atol=2e-5)
    np.testing.assert_allclose(uv, uvs, atol=2e-5)


def test_flat_scenes_have_no_corner_fields(cpu):
    scene = replace(three_meshes(), optimize=())
    dev = DeviceScene(replace(scene, objects=scene.objects[2:]))
    assert dev.corner_normals is None and dev.corner_texcoords is None
    assert make_smooth_normal(dev) is None
