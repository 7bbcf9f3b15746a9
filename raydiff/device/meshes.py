"""Triangle meshes on the host: a stackless BVH over their world-space triangles.

Everything here is plain numpy; :mod:`raydiff.device.scene` copies the arrays into Taichi fields. The pieces,
in the order a mesh goes through them:

1. :func:`~raydiff.scene.placement.transform_matrix` -- the 4x4 matrix of a mesh's ``scale``, ``rotate``
   and ``translate`` (in :mod:`raydiff.scene.placement`, re-exported here).
2. :func:`~raydiff.scene.placement.mesh_triangles` -- the mesh's world-space triangles, degenerate ones
   dropped (likewise).
3. :func:`build_bvh` -- a threaded ("skip-pointer") bounding volume hierarchy over those triangles, laid out
   so that a kernel can walk it with a single integer cursor and no stack.
4. :func:`traverse_reference` -- that walk in plain Python: the contract a kernel must follow, and the
   reference the tests check it against.

The traversal contract, in short (see :class:`BVH`)::

    i = 0
    while i < N:
        if ray hits box i (within (RAY_EPSILON, best_t)):
            if count[i] == 0: i = i + 1                      # inner node: descend to its left child
            else: test triangles first[i] .. first[i] + count[i] - 1; i = skip[i]
        else:
            i = skip[i]                                      # skip the whole subtree
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..scene.placement import mesh_triangles, rotation_matrix, transform_matrix  # noqa: F401 (the order of the pieces)

#: :func:`traverse_reference` ignores hits closer than this (in units of the ray direction's length), so
#: that a ray leaving a surface does not hit it again. (The kernels scale it by the scene's size.)
RAY_EPSILON = 1e-4

#: Moller-Trumbore treats a ray as parallel to a triangle when |det| is below this.
_PARALLEL_TOLERANCE = 1e-12


# --------------------------------------------------------------------------------------------------------
# The BVH
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BVH:
    """A threaded bounding volume hierarchy: N nodes in depth-first pre-order, with skip pointers.

    Node 0 is the root. An inner node's left child is the next node, ``i + 1``; its right child is
    ``skip[i + 1]`` (where the left subtree ends). ``skip[i]`` is the first node after node ``i``'s whole
    subtree, so a traversal that misses box ``i`` or has finished leaf ``i`` continues at ``skip[i]``;
    ``N`` means "done". Every node's subtree is the contiguous index range ``i .. skip[i] - 1``.

    Attributes
    ----------
    lower, upper : numpy.ndarray
        (N, 3) float32, the node's box: it contains every vertex of every triangle below the node, padded
        outwards by ``1e-6 * max(extent, |coordinate|) + 1e-7`` (extent: the box's longest side;
        coordinate: its largest absolute coordinate) and then rounded outwards to float32, so that a
        kernel's float32 slab test never culls a real hit, not even for a flat, axis-aligned box. A
        child's box lies inside its parent's.
    skip : numpy.ndarray
        (N,) int32, in ``i + 1 .. N``: the node to visit after node ``i``'s subtree.
    first, count : numpy.ndarray
        (N,) int32. A leaf (``count > 0``) holds the triangles ``first .. first + count - 1`` of the
        reordered list ``triangles[order]``; the leaves, in node order, tile ``0 .. T - 1`` exactly once.
        An inner node has ``count == 0`` and ``first`` the start of its subtree's range (unused by
        traversal).
    order : numpy.ndarray
        (T,) int64, a permutation of ``0 .. T - 1``: the reordered triangle list is ``triangles[order]``,
        and a hit on reordered triangle ``k`` is a hit on input triangle ``order[k]``.

    A BVH over zero triangles has N == 0 (and T == 0); the traversal loop then never runs.
    """

    lower: np.ndarray
    upper: np.ndarray
    skip: np.ndarray
    first: np.ndarray
    count: np.ndarray
    order: np.ndarray

    @property
    def num_nodes(self) -> int:
        return len(self.skip)

    @property
    def num_triangles(self) -> int:
        return len(self.order)


@functools.lru_cache(maxsize=None)
def _subtree_size(num_triangles: int, leaf_size: int) -> int:
    """How many nodes the median-split subtree over ``num_triangles`` triangles has.

    The median split sends ``n // 2`` triangles left and the rest right whatever the geometry, so the
    shape of the tree depends only on the counts; this is what lets :func:`build_bvh` write each node's
    skip pointer the moment it creates the node.
    """
    if num_triangles <= leaf_size:
        return 1
    half = num_triangles // 2
    return 1 + _subtree_size(half, leaf_size) + _subtree_size(num_triangles - half, leaf_size)


def _round_down_f32(values: np.ndarray) -> np.ndarray:
    """The largest float32 values that are <= ``values`` (float64)."""
    rounded = values.astype(np.float32)
    return np.where(rounded > values, np.nextafter(rounded, np.float32(-np.inf)), rounded)


def _round_up_f32(values: np.ndarray) -> np.ndarray:
    """The smallest float32 values that are >= ``values`` (float64)."""
    rounded = values.astype(np.float32)
    return np.where(rounded < values, np.nextafter(rounded, np.float32(np.inf)), rounded)


def build_bvh(triangles: np.ndarray, leaf_size: int = 4) -> BVH:
    """Build a :class:`BVH` by median splits along the longest axis of the centroids' bounds.

    Parameters
    ----------
    triangles : numpy.ndarray
        (T, 3, 3) float, ``triangles[k, j]`` vertex ``j`` of triangle ``k`` (e.g. from
        :func:`mesh_triangles`). T may be 0.
    leaf_size : int, optional
        The most triangles a leaf holds (>= 1). A node with more is split in two halves at the median
        of its triangles' centroids along the axis where those centroids spread the most, so (when
        ``T > leaf_size``) every leaf holds between ``ceil(leaf_size / 2)`` and ``leaf_size`` triangles,
        and the depth is about ``log2(T / leaf_size)``.

    Returns
    -------
    BVH
        N == 0 when T == 0, and a single leaf when ``T <= leaf_size``.

    Notes
    -----
    The split loop visits the nodes in pre-order with an explicit stack, partitioning each node's slice of
    the reordered centroids in place with :func:`numpy.argpartition` (O(T log T) in all); the boxes are
    computed afterwards, vectorised, from the leaves up. 200k triangles take about a second with
    ``leaf_size=4`` (three with ``leaf_size=1``).
    """
    triangles = np.asarray(triangles, dtype=np.float64)
    if triangles.ndim != 3 or triangles.shape[1:] != (3, 3):
        raise ValueError(f"triangles must be (T, 3, 3), not {triangles.shape}")
    if int(leaf_size) < 1:
        raise ValueError(f"leaf_size must be at least 1, not {leaf_size}")
    leaf_size = int(leaf_size)
    num_triangles = len(triangles)

    # 1. Topology and order. Node i covers the reordered triangles first[i] .. first[i] + size - 1.
    order = np.arange(num_triangles, dtype=np.int64)
    centroids = triangles.mean(axis=1)  # reordered along with `order`
    first: list[int] = []
    count: list[int] = []
    skip: list[int] = []
    depth: list[int] = []
    stack = [(0, num_triangles, 0)] if num_triangles else []
    while stack:
        start, end, level = stack.pop()
        node = len(first)
        size = end - start
        first.append(start)
        depth.append(level)
        skip.append(node + _subtree_size(size, leaf_size))
        if size <= leaf_size:
            count.append(size)
            continue
        count.append(0)
        slab = centroids[start:end]
        axis = int((slab.max(axis=0) - slab.min(axis=0)).argmax())
        half = size // 2
        part = slab[:, axis].argpartition(half)  # ndarray.argpartition: the `half` smallest come first
        slab[:] = slab[part]
        order[start:end] = order[start:end][part]
        # Pushed right first so that the left child is popped next, becoming node + 1 (pre-order).
        stack.append((start + half, end, level + 1))
        stack.append((start, start + half, level + 1))

    first_a = np.asarray(first, dtype=np.int32)
    count_a = np.asarray(count, dtype=np.int32)
    skip_a = np.asarray(skip, dtype=np.int32)
    depth_a = np.asarray(depth, dtype=np.int64)
    num_nodes = len(first_a)

    # 2. Exact float64 boxes: the leaves by a segmented reduction over the reordered triangles (the
    #    leaves, in node order, tile the list), then the inner nodes level by level, deepest first.
    lower = np.empty((num_nodes, 3))
    upper = np.empty((num_nodes, 3))
    if num_nodes:
        reordered = triangles[order]
        leaves = np.flatnonzero(count_a > 0)
        lower[leaves] = np.minimum.reduceat(reordered.min(axis=1), first_a[leaves], axis=0)
        upper[leaves] = np.maximum.reduceat(reordered.max(axis=1), first_a[leaves], axis=0)
        inner = np.flatnonzero(count_a == 0)
        for level in range(int(depth_a.max()) - 1, -1, -1):
            parents = inner[depth_a[inner] == level]
            left = parents + 1
            right = skip_a[left]
            lower[parents] = np.minimum(lower[left], lower[right])
            upper[parents] = np.maximum(upper[left], upper[right])

    # 3. Pad, then round outwards to float32. A child's pad is at most its parent's, so boxes nest.
    extent = (upper - lower).max(axis=1, initial=0.0)
    magnitude = np.maximum(np.abs(lower), np.abs(upper)).max(axis=1, initial=0.0)
    pad = (1e-6 * np.maximum(extent, magnitude) + 1e-7)[:, None]

    return BVH(
        lower=_round_down_f32(lower - pad),
        upper=_round_up_f32(upper + pad),
        skip=skip_a,
        first=first_a,
        count=count_a,
        order=order,
    )


def subtree_triangle_counts(bvh: BVH) -> np.ndarray:
    """How many triangles lie below each node: node ``i`` covers ``first[i] .. first[i] + span[i] - 1``.

    The leaves, in node order, tile the triangle list, and a subtree is the node range ``i .. skip[i] - 1``,
    so its triangles are contiguous; a kernel refits a box by walking that range
    (:mod:`raydiff.kernels.placement`).
    """
    counts = np.concatenate([[0], np.cumsum(bvh.count, dtype=np.int64)])
    nodes = np.arange(bvh.num_nodes)
    return (counts[bvh.skip] - counts[nodes]).astype(np.int32)


# --------------------------------------------------------------------------------------------------------
# The traversal contract
# --------------------------------------------------------------------------------------------------------


def _hit_box(lower, upper, origin, inv_direction, direction, t_min: float, t_max: float) -> bool:
    """Slab test: does the ray meet the box somewhere in [t_min, t_max]?

    A zero direction component has no slab interval; the ray is then inside that slab for every t or for
    none, decided by the origin (this avoids ``0 * inf`` = NaN in a kernel).
    """
    near, far = t_min, t_max
    for axis in range(3):
        if direction[axis] == 0.0:
            if origin[axis] < lower[axis] or origin[axis] > upper[axis]:
                return False
        else:
            t0 = (lower[axis] - origin[axis]) * inv_direction[axis]
            t1 = (upper[axis] - origin[axis]) * inv_direction[axis]
            near = max(near, min(t0, t1))
            far = min(far, max(t0, t1))
    return near <= far


def _hit_triangle(v0, v1, v2, origin, direction) -> float:
    """Moller-Trumbore, two-sided: the ray parameter of the hit, or ``inf`` on a miss."""
    e1 = (v1[0] - v0[0], v1[1] - v0[1], v1[2] - v0[2])
    e2 = (v2[0] - v0[0], v2[1] - v0[1], v2[2] - v0[2])
    p = (
        direction[1] * e2[2] - direction[2] * e2[1],
        direction[2] * e2[0] - direction[0] * e2[2],
        direction[0] * e2[1] - direction[1] * e2[0],
    )
    det = e1[0] * p[0] + e1[1] * p[1] + e1[2] * p[2]
    if abs(det) < _PARALLEL_TOLERANCE:
        return math.inf
    inv_det = 1.0 / det
    s = (origin[0] - v0[0], origin[1] - v0[1], origin[2] - v0[2])
    u = (s[0] * p[0] + s[1] * p[1] + s[2] * p[2]) * inv_det
    if u < 0.0 or u > 1.0:
        return math.inf
    q = (s[1] * e1[2] - s[2] * e1[1], s[2] * e1[0] - s[0] * e1[2], s[0] * e1[1] - s[1] * e1[0])
    v = (direction[0] * q[0] + direction[1] * q[1] + direction[2] * q[2]) * inv_det
    if v < 0.0 or u + v > 1.0:
        return math.inf
    return (e2[0] * q[0] + e2[1] * q[1] + e2[2] * q[2]) * inv_det


def traverse_reference(
    bvh: BVH, tris_reordered: np.ndarray, origin, direction, t_max: float = math.inf
) -> tuple[float, int]:
    """The nearest hit of one ray, by the stackless walk a kernel runs (plain Python, for tests and docs).

    Parameters
    ----------
    bvh : BVH
        From :func:`build_bvh`.
    tris_reordered : numpy.ndarray
        (T, 3, 3), ``triangles[bvh.order]``.
    origin, direction : array_like
        (3,) the ray ``origin + t * direction``; the direction need not be normalised (t is in units of
        its length) but must not be zero.
    t_max : float, optional
        Hits at ``t >= t_max`` are ignored (e.g. the distance to a light for a shadow ray).

    Returns
    -------
    t : float
        The nearest hit's parameter, in ``(RAY_EPSILON, t_max)``; ``t_max`` itself when nothing was hit.
    index : int
        The hit triangle's index in ``tris_reordered`` (``bvh.order[index]`` in the input list), or -1.
    """
    origin = [float(c) for c in np.asarray(origin, dtype=np.float64).reshape(3)]
    direction = [float(c) for c in np.asarray(direction, dtype=np.float64).reshape(3)]
    inv_direction = [1.0 / c if c != 0.0 else math.inf for c in direction]
    lower, upper = bvh.lower.tolist(), bvh.upper.tolist()
    skip, first, count = bvh.skip.tolist(), bvh.first.tolist(), bvh.count.tolist()

    best_t, best = float(t_max), -1
    node, num_nodes = 0, len(skip)
    while node < num_nodes:
        if not _hit_box(lower[node], upper[node], origin, inv_direction, direction, RAY_EPSILON, best_t):
            node = skip[node]
        elif count[node] == 0:
            node += 1  # inner node: its left child is next in pre-order
        else:
            for k in range(first[node], first[node] + count[node]):
                v0, v1, v2 = tris_reordered[k].tolist()
                t = _hit_triangle(v0, v1, v2, origin, direction)
                if RAY_EPSILON < t < best_t:
                    best_t, best = t, k
            node = skip[node]
    return best_t, best
