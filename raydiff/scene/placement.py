"""Placing a triangle mesh in the world: its scale, then rotation, then translation (plain numpy).

:func:`transform_matrix` is the object-to-world matrix; :func:`mesh_triangles` the mesh's world-space
triangles, degenerate ones dropped. The kernels apply the same transform on the device when a mesh's pose
is free (:mod:`raydiff.kernels.surface`).
"""

from __future__ import annotations

import math
import weakref
from typing import Iterator

import numpy as np

from .model import Mesh, Rotation, Vec3

#: The placed bounds of each mesh, computed once per Mesh (a Mesh is frozen, and its arrays are not changed
#: after it is made): a scene's size is asked for by the loader, the parameters, the fit and the device.
_BOUNDS: "weakref.WeakKeyDictionary[Mesh, tuple[np.ndarray, np.ndarray] | None]" = weakref.WeakKeyDictionary()

#: Which faces of each mesh are kept (:func:`nondegenerate` in world space), found once per Mesh: the
#: loader's bounds and the device scene's triangles both need them. A (T,) index array, or None for all.
_KEPT: "weakref.WeakKeyDictionary[Mesh, np.ndarray | None]" = weakref.WeakKeyDictionary()

#: A triangle is dropped as degenerate when twice its area is at most this times its longest edge squared.
_DEGENERATE_TOLERANCE = 1e-12


def rotation_matrix(rotate: Rotation) -> np.ndarray:
    """The 3x3 rotation by ``rotate.angle`` degrees about ``rotate.axis`` (right-handed, Rodrigues).

    Parameters
    ----------
    rotate : Rotation
        ``axis`` need not be normalised; it may be zero only when ``angle`` is zero.

    Returns
    -------
    numpy.ndarray
        (3, 3) float64, orthonormal with determinant +1; it acts on column vectors (``R @ p``).

    Raises
    ------
    ValueError
        If the axis is zero (or not finite) and the angle is not zero.
    """
    axis = np.asarray(rotate.axis, dtype=np.float64).reshape(3)
    angle = math.radians(float(rotate.angle))
    if angle == 0.0:
        return np.eye(3)
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(axis)))
        if 0.0 < largest < math.inf and not 1e-150 < largest < 1e150:
            axis = axis / largest  # so that the norm of a tiny (1e-200) or huge axis is not 0 or inf
        norm = float(np.linalg.norm(axis))
    if not (norm > 0.0 and math.isfinite(norm)):
        raise ValueError(f"rotation axis {tuple(rotate.axis)} has no direction (zero or not finite)")
    x, y, z = axis / norm
    cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])  # cross @ p == axis x p
    outer = np.outer((x, y, z), (x, y, z))
    return math.cos(angle) * np.eye(3) + math.sin(angle) * cross + (1.0 - math.cos(angle)) * outer


def transform_matrix(scale: Vec3, rotate: Rotation, translate: Vec3) -> np.ndarray:
    """The object-to-world matrix: scale, then rotate, then translate.

    Parameters
    ----------
    scale : Vec3
        Per-axis scale factors, applied first (in object space).
    rotate : Rotation
        Rotation by ``angle`` degrees about ``axis`` (right-handed), applied second; see
        :func:`rotation_matrix`.
    translate : Vec3
        Offset added last.

    Returns
    -------
    numpy.ndarray
        (4, 4) float64 ``M = T @ R @ S`` acting on homogeneous column vectors: the world position of an
        object-space point ``p`` is ``(M @ [*p, 1])[:3] == R @ (scale * p) + translate``.
    """
    matrix = np.eye(4)
    matrix[:3, :3] = rotation_matrix(rotate) * np.asarray(scale, dtype=np.float64).reshape(1, 3)
    matrix[:3, 3] = np.asarray(translate, dtype=np.float64).reshape(3)
    return matrix


def apply_matrix(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points @ matrix[:3, :3].T + matrix[:3, 3]``, written out by columns.

    Parameters
    ----------
    points : numpy.ndarray
        (..., 3) float64.
    matrix : numpy.ndarray
        (4, 4) or (3, 3) (then no translation).

    Returns
    -------
    numpy.ndarray
        (..., 3) float64, C-contiguous. (numpy's ``matmul`` on (n, 3) rows goes to BLAS, which after
        ``ti.init`` took 4 times as long, most of it its threads' waiting: docs/performance.md, section 14.)
    """
    out = np.empty(points.shape, dtype=np.float64)
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    for i in range(3):
        row = out[..., i]
        np.multiply(x, matrix[i, 0], out=row)
        row += y * matrix[i, 1]
        row += z * matrix[i, 2]
        if matrix.shape[1] == 4:
            row += matrix[i, 3]
    return out


def nondegenerate(triangles: np.ndarray) -> np.ndarray:
    """Which triangles have an area: twice the area above 1e-12 times the longest edge squared.

    Parameters
    ----------
    triangles : numpy.ndarray
        (T, 3, 3): ``triangles[k, j]`` is corner ``j`` of triangle ``k``.

    Returns
    -------
    numpy.ndarray
        (T,) bool; False for a repeated corner, three corners on a line, a point, or NaN.
    """
    edge1 = triangles[:, 1] - triangles[:, 0]
    edge2 = triangles[:, 2] - triangles[:, 0]
    edge3 = triangles[:, 2] - triangles[:, 1]
    with np.errstate(all="ignore"):
        x1, y1, z1 = edge1.T
        x2, y2, z2 = edge2.T
        twice_area_sq = (y1 * z2 - z1 * y2) ** 2 + (z1 * x2 - x1 * z2) ** 2 + (x1 * y2 - y1 * x2) ** 2
        longest_sq = np.maximum(np.maximum(np.einsum("ij,ij->i", edge1, edge1), np.einsum("ij,ij->i", edge2, edge2)),
                                np.einsum("ij,ij->i", edge3, edge3))
        return np.sqrt(twice_area_sq) > _DEGENERATE_TOLERANCE * longest_sq


#: The degenerate test looks at this many faces at a time: a block's triangles and temporaries stay in
#: the cache (a fifth faster than one pass over a million triangles), and no (F, 3, 3) array is made.
_BLOCK = 1 << 14


def _nondegenerate_blocks(vertices: np.ndarray, faces: np.ndarray) -> Iterator[np.ndarray]:
    """:func:`nondegenerate` of the triangles of ``faces`` (F, 3) over ``vertices`` (V, 3), a block of
    faces at a time."""
    for i in range(0, len(faces), _BLOCK):
        yield nondegenerate(np.take(vertices, faces[i:i + _BLOCK], axis=0))


def has_area(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """Whether some face of a mesh has an area (:func:`nondegenerate`), looking at a block of faces at a
    time: a surface shows in its first block, and a million triangles are not placed to find that out."""
    return any(bool(keep.any()) for keep in _nondegenerate_blocks(vertices, faces))


def mesh_triangles(mesh: Mesh) -> np.ndarray:
    """The mesh's triangles in world space, degenerate ones dropped.

    Parameters
    ----------
    mesh : Mesh
        ``vertices`` (V, 3) and ``faces`` (F, 3) 0-based indices into them, in object space.

    Returns
    -------
    numpy.ndarray
        (T, 3, 3) float64, C-contiguous, T <= F: ``triangles[k, j]`` is vertex ``j`` of the ``k``-th kept
        face, in the faces' order and with their winding (a negative scale, which mirrors, flips the geometric
        normal ``cross(v1 - v0, v2 - v0)``). A face is dropped when its world-space area is zero (twice
        the area at most 1e-12 times its longest edge squared), e.g. repeated vertices or a zero scale.

    Raises
    ------
    ValueError
        If the arrays have the wrong shape or a face indexes a vertex that does not exist.
    """
    return placed_triangles(mesh, local=False)[0]


def placed_triangles(mesh: Mesh, local: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``placed_faces(mesh, local)[:2]``: see :func:`placed_faces`."""
    return placed_faces(mesh, local)[:2]


def placed_faces(mesh: Mesh, local: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The kept triangles of :func:`mesh_triangles` in world space and the same triangles in object space.

    Parameters
    ----------
    mesh : Mesh
    local : bool, optional
        Whether the object-space triangles are wanted; if not, ``local`` is (0, 3, 3) (a large mesh's
        copy saved).

    Raises
    ------
    ValueError
        As :func:`mesh_triangles`.

    Returns
    -------
    tuple
        ``(world, local, kept)``: ``world`` and ``local`` both (T, 3, 3) float64, ``world[k]`` is
        ``local[k]`` scaled, rotated and translated (the kernels place ``local`` themselves when a mesh's
        pose is free); ``kept`` the (T,) indices into ``mesh.faces`` of the kept faces, or None when every
        face is kept (their corners' normals and texture coordinates follow them).
    """
    placed = _placed_vertices(mesh)
    if placed is None:
        return np.zeros((0, 3, 3)), np.zeros((0, 3, 3)), None
    vertices, world, faces, kept = placed
    if kept is None:  # the usual case: every face
        return np.take(world, faces, axis=0), (np.take(vertices, faces, axis=0) if local else np.zeros((0, 3, 3))), None
    faces = faces[kept]  # (take is faster than world[faces])
    return np.take(world, faces, axis=0), (np.take(vertices, faces, axis=0) if local else np.zeros((0, 3, 3))), kept


def _placed_vertices(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None] | None:
    """The mesh's arrays checked, its vertices placed, and its kept faces (found once per Mesh, block by
    block: no (F, 3, 3) array is made for them): ``(vertices, world, faces, kept)`` with ``kept`` as
    :func:`placed_faces` has it; None for a mesh without faces. Raises as :func:`mesh_triangles`."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"mesh {mesh.name!r}: vertices must be (V, 3), not {vertices.shape}")
    if faces.size == 0:
        return None
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        shape = f"{faces.dtype} {faces.shape}"
        raise ValueError(f"mesh {mesh.name!r}: faces must be (F, 3) integers, not {shape}")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ValueError(f"mesh {mesh.name!r}: a face indexes a vertex outside 0..{len(vertices) - 1}")
    try:
        matrix = transform_matrix(mesh.scale, mesh.rotate, mesh.translate)
    except ValueError as err:
        raise ValueError(f"mesh {mesh.name!r}: {err}") from None
    world = apply_matrix(vertices, matrix)
    if mesh not in _KEPT:
        keep = np.concatenate(list(_nondegenerate_blocks(world, faces)))
        _KEPT[mesh] = None if keep.all() else np.flatnonzero(keep)
    return vertices, world, faces, _KEPT[mesh]


def mesh_bounds(mesh: Mesh) -> tuple[np.ndarray, np.ndarray] | None:
    """The box around the mesh's kept world-space triangles (:func:`mesh_triangles`), or None if none is kept.

    Placing a million triangles takes a fraction of a second, and a scene's size is wanted several times
    while a fit starts, so the answer is remembered for as long as the Mesh lives.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(lower, upper)``, each (3,) float64.

    Raises
    ------
    ValueError
        As :func:`mesh_triangles`.
    """
    if mesh not in _BOUNDS:
        _BOUNDS[mesh] = _placed_bounds(mesh)
    return _BOUNDS[mesh]


def _placed_bounds(mesh: Mesh) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`mesh_bounds`, from the placed vertices that kept faces use: the box of the kept triangles'
    corners, without making the (T, 3, 3) triangles (three times the vertices)."""
    placed = _placed_vertices(mesh)
    if placed is None or (placed[3] is not None and not len(placed[3])):
        return None
    _, world, faces, kept = placed
    used = np.zeros(len(world), dtype=bool)
    used[(faces if kept is None else faces[kept]).ravel()] = True
    if not used.all():
        world = world[used]
    return world.min(axis=0), world.max(axis=0)
