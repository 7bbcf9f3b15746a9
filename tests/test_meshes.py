"""raydiff.meshes: placing meshes, the stackless BVH and its traversal contract."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from raydiff.device.meshes import (
    BVH,
    RAY_EPSILON,
    build_bvh,
    mesh_triangles,
    rotation_matrix,
    transform_matrix,
    traverse_reference,
)
from raydiff.scene import placement
from raydiff.scene.model import Mesh, Rotation

CUBE = Path(__file__).resolve().parents[1] / "assets" / "cube.obj"


def read_obj_inline(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Just enough OBJ for the cube: ``v x y z`` and ``f a b c`` (1-based) lines."""
    vertices, faces = [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "v":
            vertices.append([float(x) for x in fields[1:4]])
        elif fields and fields[0] == "f":
            faces.append([int(x.split("/")[0]) - 1 for x in fields[1:]])
    return np.array(vertices), np.array(faces, dtype=np.int64)


def make_mesh(vertices, faces, **placement) -> Mesh:
    return Mesh(
        name="m",
        file="m.obj",
        file_as_written="m.obj",
        vertices=np.asarray(vertices, dtype=np.float64),
        faces=np.asarray(faces, dtype=np.int64),
        **placement,
    )


def apply(matrix: np.ndarray, point) -> np.ndarray:
    return (matrix @ np.append(np.asarray(point, dtype=np.float64), 1.0))[:3]


def normals(triangles: np.ndarray) -> np.ndarray:
    return np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])


def random_soup(rng: np.random.Generator, count: int, size: float = 0.1) -> np.ndarray:
    centres = rng.uniform(-1.0, 1.0, size=(count, 1, 3))
    return centres + rng.normal(scale=size, size=(count, 3, 3))


# ---------------------------------------------------------------------------------------------- transforms


def test_rotation_about_y_by_90_maps_x_to_minus_z():
    matrix = transform_matrix((1, 1, 1), Rotation(axis=(0, 1, 0), angle=90), (0, 0, 0))
    np.testing.assert_allclose(apply(matrix, (1, 0, 0)), (0, 0, -1), atol=1e-12)
    np.testing.assert_allclose(apply(matrix, (0, 0, 1)), (1, 0, 0), atol=1e-12)
    np.testing.assert_allclose(apply(matrix, (0, 1, 0)), (0, 1, 0), atol=1e-12)


def test_rotation_axis_is_normalised_and_right_handed():
    rotation = rotation_matrix(Rotation(axis=(0, 0, 5), angle=90))
    np.testing.assert_allclose(rotation @ (1, 0, 0), (0, 1, 0), atol=1e-12)  # x -> y about +z
    rotation = rotation_matrix(Rotation(axis=(1, 1, 1), angle=120))
    np.testing.assert_allclose(rotation @ (1, 0, 0), (0, 1, 0), atol=1e-12)  # cycles the axes
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_zero_axis_is_only_allowed_without_rotation():
    np.testing.assert_array_equal(rotation_matrix(Rotation(axis=(0, 0, 0), angle=0)), np.eye(3))
    with pytest.raises(ValueError, match="no direction"):
        rotation_matrix(Rotation(axis=(0, 0, 0), angle=30))


@pytest.mark.parametrize("length", [1e-200, 1e-30, 1e30, 1e300])
def test_an_axis_of_any_length_gives_the_same_rotation(length):
    np.testing.assert_allclose(rotation_matrix(Rotation(axis=(0, 0, length), angle=90)) @ (1, 0, 0), (0, 1, 0), atol=1e-12)


def test_a_mesh_without_a_rotation_axis_is_named():
    mesh = Mesh(name="box", file="box.obj", file_as_written="box.obj", vertices=np.eye(3), faces=np.array([[0, 1, 2]]),
                rotate=Rotation(axis=(0.0, 0.0, 0.0), angle=30.0))
    with pytest.raises(ValueError, match="mesh 'box': rotation axis .* has no direction"):
        mesh_triangles(mesh)


def test_transform_order_is_scale_then_rotate_then_translate():
    matrix = transform_matrix((2, 3, 4), Rotation(axis=(0, 0, 1), angle=90), (10, 20, 30))
    assert matrix.shape == (4, 4) and matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix[3], (0, 0, 0, 1))
    # (1, 0, 0) -> scale (2, 0, 0) -> rotate about z (0, 2, 0) -> translate (10, 22, 30)
    np.testing.assert_allclose(apply(matrix, (1, 0, 0)), (10, 22, 30), atol=1e-12)
    # (0, 1, 0) -> scale (0, 3, 0) -> rotate (-3, 0, 0) -> translate (7, 20, 30)
    np.testing.assert_allclose(apply(matrix, (0, 1, 0)), (7, 20, 30), atol=1e-12)
    # (0, 0, 1) -> scale (0, 0, 4) -> rotate (0, 0, 4) -> translate (10, 20, 34)
    np.testing.assert_allclose(apply(matrix, (0, 0, 1)), (10, 20, 34), atol=1e-12)
    np.testing.assert_allclose(apply(matrix, (0, 0, 0)), (10, 20, 30), atol=1e-12)


def test_transform_matches_composition_of_separate_matrices():
    rng = np.random.default_rng(0)
    scale, axis, translate = rng.uniform(0.5, 2, 3), rng.normal(size=3), rng.normal(size=3)
    matrix = transform_matrix(tuple(scale), Rotation(axis=tuple(axis), angle=37.0), tuple(translate))
    rotation = rotation_matrix(Rotation(axis=tuple(axis), angle=37.0))
    points = rng.normal(size=(10, 3))
    expected = (rotation @ (points * scale).T).T + translate
    got = np.array([apply(matrix, p) for p in points])
    np.testing.assert_allclose(got, expected, atol=1e-12)


# -------------------------------------------------------------------------------------------------- meshes


def test_cube_asset_is_a_unit_cube_wound_outward():
    vertices, faces = read_obj_inline(CUBE)
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    np.testing.assert_array_equal(vertices.min(axis=0), (-0.5, -0.5, -0.5))
    np.testing.assert_array_equal(vertices.max(axis=0), (0.5, 0.5, 0.5))
    triangles = vertices[faces]
    n = normals(triangles)
    centroids = triangles.mean(axis=1)
    # Outward: the normal points away from the centre, along the face's axis, with the face's full area.
    assert np.all(np.einsum("ij,ij->i", n, centroids) > 0)
    np.testing.assert_allclose(np.abs(n).sum(axis=1), 1.0)
    # Closed: every (undirected) edge is shared by exactly two triangles, in opposite directions.
    directed = {(int(a), int(b)) for f in faces for a, b in zip(f, np.roll(f, -1))}
    assert len(directed) == 36
    assert all((b, a) in directed for a, b in directed)


def test_mesh_triangles_places_cube_and_keeps_winding():
    vertices, faces = read_obj_inline(CUBE)
    mesh = make_mesh(
        vertices, faces, scale=(2, 1, 1), rotate=Rotation(axis=(0, 1, 0), angle=90), translate=(0, 0, 5)
    )
    triangles = mesh_triangles(mesh)
    assert triangles.shape == (12, 3, 3) and triangles.dtype == np.float64
    # x (scaled to +-1) becomes z, around z = 5; z becomes x.
    np.testing.assert_allclose(triangles.reshape(-1, 3).min(axis=0), (-0.5, -0.5, 4.0), atol=1e-12)
    np.testing.assert_allclose(triangles.reshape(-1, 3).max(axis=0), (0.5, 0.5, 6.0), atol=1e-12)
    outward = np.einsum("ij,ij->i", normals(triangles), triangles.mean(axis=1) - (0, 0, 5))
    assert np.all(outward > 0)
    matrix = transform_matrix(mesh.scale, mesh.rotate, mesh.translate)
    expected = np.array([[apply(matrix, p) for p in triangle] for triangle in vertices[faces]])
    np.testing.assert_allclose(triangles, expected, atol=1e-12)


def test_mesh_triangles_drops_degenerate_faces():
    vertices = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (2, 0, 0)]
    faces = [(0, 1, 2), (0, 0, 2), (0, 1, 3), (2, 1, 0)]  # repeated vertex; collinear
    triangles = mesh_triangles(make_mesh(vertices, faces))
    assert triangles.shape == (2, 3, 3)
    np.testing.assert_array_equal(triangles[1], [(0, 1, 0), (1, 0, 0), (0, 0, 0)])
    # A zero scale flattens the triangle in the xy plane to a segment.
    assert mesh_triangles(make_mesh(vertices, faces, scale=(1, 0, 1))).shape == (0, 3, 3)
    assert mesh_triangles(make_mesh(np.zeros((0, 3)), np.zeros((0, 3)))).shape == (0, 3, 3)


def test_mesh_bounds_are_the_kept_triangles_box_and_the_kept_faces_found_once(monkeypatch):
    # Vertex 4 is used only by a degenerate face and vertex 5 by none: neither widens the box.
    vertices = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (9, 0, 0), (-9, -9, -9)]
    faces = [(0, 1, 2), (0, 2, 3), (0, 1, 4)]
    pose = dict(scale=(2, 1, 3), rotate=Rotation(axis=(1, 2, 3), angle=40), translate=(1, -2, 0.5))
    mesh = make_mesh(vertices, faces, **pose)
    tests = []
    nondegenerate = placement.nondegenerate
    monkeypatch.setattr(placement, "nondegenerate", lambda t: tests.append(len(t)) or nondegenerate(t))
    lower, upper = placement.mesh_bounds(mesh)
    triangles = mesh_triangles(mesh)
    assert len(triangles) == 2 and tests == [3]  # the degenerate test ran once, for both answers
    np.testing.assert_array_equal(lower, triangles.reshape(-1, 3).min(axis=0))
    np.testing.assert_array_equal(upper, triangles.reshape(-1, 3).max(axis=0))
    assert placement.mesh_bounds(make_mesh(vertices, [(0, 1, 4)], **pose)) is None  # nothing kept
    assert placement.mesh_bounds(make_mesh(vertices, np.zeros((0, 3)), **pose)) is None


def test_apply_matrix_is_the_matrix_product():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(50, 3, 3))
    matrix = transform_matrix((2, -1, 0.5), Rotation(axis=(1, 1, 0), angle=30), (1, 2, 3))
    np.testing.assert_allclose(placement.apply_matrix(points, matrix), points @ matrix[:3, :3].T + matrix[:3, 3],
                               atol=1e-14)
    np.testing.assert_allclose(placement.apply_matrix(points, matrix[:3, :3]), points @ matrix[:3, :3].T, atol=1e-14)


def test_mesh_triangles_rejects_out_of_range_faces():
    with pytest.raises(ValueError, match="outside"):
        mesh_triangles(make_mesh([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [(0, 1, 3)]))


# ----------------------------------------------------------------------------------------------------- BVH


def check_bvh(bvh: BVH, triangles: np.ndarray, leaf_size: int) -> None:
    """Every structural promise of the BVH docstring."""
    n, t = bvh.num_nodes, len(triangles)
    assert bvh.lower.shape == bvh.upper.shape == (n, 3)
    assert bvh.lower.dtype == bvh.upper.dtype == np.float32
    for name in ("skip", "first", "count"):
        assert getattr(bvh, name).shape == (n,) and getattr(bvh, name).dtype == np.int32, name
    assert bvh.order.shape == (t,) and bvh.order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(bvh.order), np.arange(t))
    if t == 0:
        assert n == 0 and bvh.depth == 0
        return

    # Skip pointers: forward, in range; pre-order: node i's subtree is exactly i .. skip[i] - 1.
    assert np.all(bvh.skip > np.arange(n)) and np.all(bvh.skip <= n)
    assert bvh.skip[0] == n
    visited = []
    levels = []

    def walk(i: int, level: int = 1) -> None:
        visited.append(i)
        levels.append(level)
        if bvh.count[i] > 0:
            assert bvh.skip[i] == i + 1  # a leaf's subtree is itself
            return
        left, right = i + 1, bvh.skip[i + 1]
        assert right < bvh.skip[i] and bvh.skip[right] == bvh.skip[i]
        for child in (left, right):
            assert np.all(bvh.lower[child] >= bvh.lower[i]) and np.all(bvh.upper[child] <= bvh.upper[i])
        walk(left, level + 1)
        walk(right, level + 1)

    walk(0)
    assert visited == list(range(n))
    assert bvh.depth == max(levels)  # the nearest-hit walk's stack holds depth - 1 nodes

    # Leaves tile the reordered list exactly once, hold 1..leaf_size triangles, and their boxes contain them.
    leaves = np.flatnonzero(bvh.count > 0)
    assert np.all(bvh.count[leaves] <= leaf_size)
    covered = np.concatenate([np.arange(bvh.first[i], bvh.first[i] + bvh.count[i]) for i in leaves])
    np.testing.assert_array_equal(covered, np.arange(t))
    reordered = triangles[bvh.order]
    for i in leaves:
        points = reordered[bvh.first[i] : bvh.first[i] + bvh.count[i]].reshape(-1, 3)
        assert np.all(points > bvh.lower[i]) and np.all(points < bvh.upper[i])  # strictly: padded


@pytest.mark.parametrize("count", [1, 2, 3, 5, 17, 100, 1000])
@pytest.mark.parametrize("leaf_size", [1, 2, 4, 7])
def test_bvh_invariants_on_random_soups(count, leaf_size):
    triangles = random_soup(np.random.default_rng(count * 31 + leaf_size), count)
    check_bvh(build_bvh(triangles, leaf_size=leaf_size), triangles, leaf_size)


def test_bvh_invariants_on_degenerate_layouts():
    # All centroids equal (no axis to split along), and an axis-aligned flat sheet.
    same = np.tile([[[0, 0, 0], [1, 0, 0], [0, 1, 0]]], (50, 1, 1)).astype(np.float64)
    check_bvh(build_bvh(same), same, 4)
    rng = np.random.default_rng(5)
    sheet = random_soup(rng, 200)
    sheet[:, :, 2] = 0.25
    check_bvh(build_bvh(sheet, leaf_size=3), sheet, 3)


@pytest.mark.parametrize("layout", ["soup", "one centre"])
def test_the_root_halves_built_at_once_give_the_one_thread_tree(monkeypatch, layout):
    # A large mesh's two subtrees under the root are built on two threads: the same tree, bit for bit,
    # as one thread builds (the cuts, the layout, the boxes, the depth).
    from raydiff.device import meshes

    if layout == "soup":
        triangles = random_soup(np.random.default_rng(8), 3000, size=0.02)
    else:  # every Morton code equal: the root and every node cut in half
        triangles = np.tile([[[0, 0, 0], [1, 0, 0], [0, 1, 0]]], (300, 1, 1)).astype(np.float64)
    one = build_bvh(triangles)
    assert len(triangles) <= meshes.PARALLEL_SMALLEST  # (built on one thread)
    monkeypatch.setattr(meshes, "PARALLEL_SMALLEST", 16)
    two = build_bvh(triangles)
    check_bvh(two, triangles, 4)
    for name in ("lower", "upper", "skip", "first", "count", "order"):
        assert getattr(two, name).dtype == getattr(one, name).dtype
        np.testing.assert_array_equal(getattr(two, name), getattr(one, name))
    assert two.depth == one.depth


def test_empty_bvh_traverses_to_a_miss():
    bvh = build_bvh(np.zeros((0, 3, 3)))
    check_bvh(bvh, np.zeros((0, 3, 3)), 4)
    assert bvh.num_nodes == 0
    assert traverse_reference(bvh, np.zeros((0, 3, 3)), (0, 0, -1), (0, 0, 1)) == (math.inf, -1)
    assert traverse_reference(bvh, np.zeros((0, 3, 3)), (0, 0, -1), (0, 0, 1), t_max=7.0) == (7.0, -1)


def test_single_triangle_is_one_leaf():
    triangle = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0]]], dtype=np.float64)
    bvh = build_bvh(triangle)
    check_bvh(bvh, triangle, 4)
    np.testing.assert_array_equal(bvh.skip, [1])
    np.testing.assert_array_equal(bvh.first, [0])
    np.testing.assert_array_equal(bvh.count, [1])
    t, index = traverse_reference(bvh, triangle[bvh.order], (0.25, 0.25, -2), (0, 0, 1))
    assert (t, index) == (pytest.approx(2.0), 0)
    assert traverse_reference(bvh, triangle, (0.25, 0.25, -2), (0, 0, 1), t_max=1.5) == (1.5, -1)
    assert traverse_reference(bvh, triangle, (0.75, 0.75, -2), (0, 0, 1)) == (math.inf, -1)
    assert traverse_reference(bvh, triangle, (0.25, 0.25, 1), (0, 0, 1))[1] == -1  # behind the origin


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="T, 3, 3"):
        build_bvh(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="leaf_size"):
        build_bvh(np.zeros((1, 3, 3)), leaf_size=0)


# -------------------------------------------------------------------------------------------- traversal


def brute_force(triangles: np.ndarray, origin, direction, t_max=math.inf) -> tuple[float, int]:
    """Nearest two-sided hit over all triangles, vectorised Moller-Trumbore (independent of the module)."""
    origin, direction = np.asarray(origin, float), np.asarray(direction, float)
    v0, e1, e2 = triangles[:, 0], triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        s = origin - v0
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ direction) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        ok = (np.abs(det) > 1e-12) & (u >= 0) & (u <= 1) & (v >= 0) & (u + v <= 1)
        ok &= (t > RAY_EPSILON) & (t < t_max)
    if not ok.any():
        return t_max, -1
    k = int(np.argmin(np.where(ok, t, np.inf)))
    return float(t[k]), k


def test_traversal_matches_brute_force_on_random_rays():
    rng = np.random.default_rng(42)
    triangles = random_soup(rng, 1000)
    bvh = build_bvh(triangles)
    reordered = triangles[bvh.order]
    hits = 0
    for ray in range(500):
        origin = rng.uniform(-3, 3, size=3) if ray % 5 else rng.uniform(-1, 1, size=3)  # some start inside
        direction = rng.uniform(-1, 1, size=3) - origin * (ray % 2)  # half aimed at the soup
        t_max = math.inf if ray % 7 else float(rng.uniform(0.1, 3.0))
        got = traverse_reference(bvh, reordered, origin, direction, t_max)
        expected = brute_force(triangles, origin, direction, t_max)
        assert got[1] == -1 or got[1] < len(triangles)
        if expected[1] != -1:
            hits += 1
            assert got[1] != -1, f"ray {ray} missed"
            assert got[0] == pytest.approx(expected[0], rel=1e-12, abs=1e-12), f"ray {ray}"
            if bvh.order[got[1]] != expected[1]:  # only a tie may pick another triangle
                again = brute_force(triangles[[bvh.order[got[1]]]], origin, direction, t_max)
                assert again[0] == pytest.approx(expected[0], rel=1e-12)
        else:
            assert got == (t_max, -1), f"ray {ray}"
    assert hits > 100  # the rays do exercise the tree


def test_traversal_with_axis_aligned_rays_and_flat_boxes():
    # Axis-aligned cube faces make flat leaf boxes; axis-aligned rays have zero direction components.
    vertices, faces = read_obj_inline(CUBE)
    triangles = mesh_triangles(make_mesh(vertices, faces, translate=(3, -2, 1)))
    bvh = build_bvh(triangles, leaf_size=1)
    reordered = triangles[bvh.order]
    rng = np.random.default_rng(7)
    for axis in range(3):
        for sign in (-1.0, 1.0):
            for _ in range(20):
                centre = np.array([3.0, -2.0, 1.0])
                origin = centre + rng.uniform(-0.49, 0.49, size=3)
                origin[axis] = centre[axis] - sign * 5.0
                direction = np.zeros(3)
                direction[axis] = sign * 2.0
                t, k = traverse_reference(bvh, reordered, origin, direction)
                assert k != -1
                assert t == pytest.approx(4.5 / 2.0)  # enters the near face, 4.5 away, at speed 2
                assert t == pytest.approx(brute_force(triangles, origin, direction)[0], rel=1e-12)
    # A ray passing just above the cube misses; one from the centre hits a face half a unit away.
    assert traverse_reference(bvh, reordered, (3, -2, 1.6), (1, 0, 0))[1] == -1
    t, k = traverse_reference(bvh, reordered, (3, -2, 1), (0, 1, 0))
    assert t == pytest.approx(0.5) and k != -1


def test_traversal_far_from_the_origin():
    # Large coordinates: float32 boxes must still contain the (float64) triangles they bound.
    rng = np.random.default_rng(3)
    triangles = random_soup(rng, 300, size=0.01) * 10.0 + 1.0e4
    bvh = build_bvh(triangles)
    check_bvh(bvh, triangles, 4)
    reordered = triangles[bvh.order]
    for _ in range(100):
        target = triangles[rng.integers(len(triangles))].mean(axis=0)
        origin = target + rng.normal(size=3) * 30.0
        got = traverse_reference(bvh, reordered, origin, target - origin)
        expected = brute_force(triangles, origin, target - origin)
        assert expected[1] != -1 and got[0] == pytest.approx(expected[0], rel=1e-12)


def test_build_200k_triangles():
    triangles = random_soup(np.random.default_rng(1), 200_000, size=0.005)
    start = time.perf_counter()
    bvh = build_bvh(triangles)
    elapsed = time.perf_counter() - start
    print(f"build_bvh(200k triangles): {elapsed:.2f} s, {bvh.num_nodes} nodes")
    assert bvh.num_triangles == 200_000
    np.testing.assert_array_equal(np.sort(bvh.order), np.arange(200_000))
    leaves = np.flatnonzero(bvh.count > 0)
    assert bvh.count.sum() == 200_000 and np.all(np.diff(bvh.first[leaves]) == bvh.count[leaves][:-1])


def test_the_surface_area_heuristic_cuts_at_the_gap():
    # 16 small triangles near x = 0 and 112 near x = 10: a split by counts (the median) would cut the big
    # cluster in two; the surface-area heuristic separates the clusters at the root.
    rng = np.random.default_rng(11)
    near = random_soup(rng, 16, size=0.01) * 0.5
    far = random_soup(rng, 112, size=0.01) * 0.5 + (10.0, 0.0, 0.0)
    triangles = np.concatenate([far, near])
    bvh = build_bvh(triangles, leaf_size=4)
    check_bvh(bvh, triangles, 4)
    left, right = 1, bvh.skip[1]
    boxes = sorted([(bvh.lower[left], bvh.upper[left]), (bvh.lower[right], bvh.upper[right])], key=lambda b: b[0][0])
    assert boxes[0][1][0] < 1.0 and boxes[1][0][0] > 9.0  # each child holds one cluster only


def test_a_mesh_surface_builds_a_shallow_tree():
    # A closed surface (the cube subdivided): leaves are full and the depth is near log2(T / leaf_size).
    vertices, faces = read_obj_inline(CUBE)
    rng = np.random.default_rng(2)
    triangles = np.concatenate([vertices[faces] * s + rng.normal(scale=2.0, size=3) for s in rng.uniform(0.1, 1, 500)])
    bvh = build_bvh(triangles)
    check_bvh(bvh, triangles, 4)
    depth = np.zeros(bvh.num_nodes, dtype=int)
    for i in range(bvh.num_nodes):
        if bvh.count[i] == 0:
            depth[i + 1] = depth[bvh.skip[i + 1]] = depth[i] + 1
    assert depth.max() <= 2 * math.log2(len(triangles) / 4) + 2
    assert bvh.count[bvh.count > 0].mean() > 2.5
