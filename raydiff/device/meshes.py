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
5. :func:`corner_normals` and :func:`corner_texcoords` -- the corners' OBJ normals and texture coordinates
   of the kept triangles, for the meshes that have them (smooth shading, textures).

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

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..scene.model import Mesh
from ..scene.placement import apply_matrix, mesh_triangles, rotation_matrix, transform_matrix  # noqa: F401 (the order of the pieces)

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
        coordinate: its largest absolute coordinate; less at most half a float32 step, from the vertices'
        rounding to float32 before the union) and then rounded outwards to float32, so that a
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
    depth : int
        The number of levels (1: the root is a leaf; 0 when N == 0). A walk that keeps the nodes still
        to visit on a stack, one per level it went down, needs at most ``depth - 1`` entries.

    A BVH over zero triangles has N == 0 (and T == 0); the traversal loop then never runs.
    """

    lower: np.ndarray
    upper: np.ndarray
    skip: np.ndarray
    first: np.ndarray
    count: np.ndarray
    order: np.ndarray
    depth: int

    @property
    def num_nodes(self) -> int:
        return len(self.skip)

    @property
    def num_triangles(self) -> int:
        return len(self.order)


def _round_down_f32(values: np.ndarray) -> np.ndarray:
    """The largest float32 values that are <= ``values`` (float64)."""
    rounded = values.astype(np.float32)
    np.nextafter(rounded, np.float32(-np.inf), out=rounded, where=rounded > values)  # (only where rounded up)
    return rounded


def _round_up_f32(values: np.ndarray) -> np.ndarray:
    """The smallest float32 values that are >= ``values`` (float64)."""
    rounded = values.astype(np.float32)
    np.nextafter(rounded, np.float32(np.inf), out=rounded, where=rounded < values)
    return rounded


#: :func:`build_bvh` weighs a node's cut between the cells of the next SAH_BITS bits of its Morton prefix.
SAH_BITS = 4
SAH_BINS = 1 << SAH_BITS

#: A node of at most this many triangles is cut where its Morton cell halves, without weighing bins: the
#: SAH's cost is per node, and the many small nodes of the deep levels were most of the build's time
#: for a fraction of a percent of a ray's box tests (docs/performance.md, section 14).
SAH_SMALLEST = 64


def build_bvh(triangles: np.ndarray, leaf_size: int = 4) -> BVH:
    """Build a :class:`BVH` by the surface-area heuristic, binned over the triangles' Morton order.

    Parameters
    ----------
    triangles : numpy.ndarray
        (T, 3, 3) float, ``triangles[k, j]`` vertex ``j`` of triangle ``k`` (e.g. from
        :func:`mesh_triangles`). T may be 0.
    leaf_size : int, optional
        The most triangles a leaf holds (>= 1); a node with more is split.

    Returns
    -------
    BVH
        N == 0 when T == 0, and a single leaf when ``T <= leaf_size``.

    Notes
    -----
    The triangles are sorted once along a Morton (Z-order) curve through their boxes' centres, over the
    cube around them, so that every node covers a contiguous range of that order and no triangle moves
    after the sort. A node is split where its range crosses a cell boundary of the curve: its triangles'
    codes share a prefix, and the next 4 bits below it cut the node's cell into 16 (2 x 2 x 2 twice, or
    fewer near the bottom), whose boundaries are the candidate cuts (the bins). The cut taken is the one
    whose two sides have the least surface area times triangle count, the surface-area heuristic's
    estimate of what a ray costs below the node (ties go to the more even split; triangles whose codes are
    all equal are cut in half). A node of at most 64 triangles (:data:`SAH_SMALLEST`) is cut where its cell
    halves (the rule of a linear BVH), which costs one search, not a pass over 16 bins. Every node of a
    level is split at once, in numpy: a level costs a few
    passes over the sorted triangles' boxes. The tree is built breadth first and then laid out in
    pre-order with skip pointers; the boxes are computed from the leaves up, exactly, from the triangles.
    Over :data:`PARALLEL_SMALLEST` triangles, the root's two subtrees are built at once on two threads
    (the same tree). 1M triangles take about 1.4 seconds of CPU (docs/performance.md, sections 10, 14
    and 19).
    """
    triangles = np.asarray(triangles, dtype=np.float64)
    if triangles.ndim != 3 or triangles.shape[1:] != (3, 3):
        raise ValueError(f"triangles must be (T, 3, 3), not {triangles.shape}")
    if int(leaf_size) < 1:
        raise ValueError(f"leaf_size must be at least 1, not {leaf_size}")
    leaf_size = int(leaf_size)
    num_triangles = len(triangles)
    if num_triangles == 0:
        empty = np.zeros((0, 3), dtype=np.float32)
        none = np.zeros(0, dtype=np.int32)
        return BVH(lower=empty, upper=empty.copy(), skip=none, first=none.copy(), count=none.copy(),
                   order=np.zeros(0, dtype=np.int64), depth=0)

    # 1. The triangles' boxes in float32 (plenty to choose splits by; the rounding, at most half a float32
    #    step, is far inside the pad of step 5), and their Morton order. (Rounding first and taking the
    #    corners' minima after gives the same boxes: rounding keeps the order.)
    corners = triangles.astype(np.float32)
    low = np.minimum(corners[:, 0], corners[:, 1])
    np.minimum(low, corners[:, 2], out=low)
    high = np.maximum(corners[:, 0], corners[:, 1])
    np.maximum(high, corners[:, 2], out=high)
    del corners
    codes = _morton_codes(low, high)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    boxes = _sorted_boxes(low, high, order)
    del low, high

    # 2. to 5., below the root: the root's two subtrees are built at once, one thread each, when the mesh
    #    is large (numpy lets the interpreter go in its array operations, so that two cores work).
    if num_triangles <= max(leaf_size, PARALLEL_SMALLEST):
        tree = _subtree(codes, boxes, 0, num_triangles, leaf_size)
    else:
        cut = int(_cuts(np.array([0]), np.array([num_triangles]), codes, boxes)[0])
        with ThreadPoolExecutor(2) as pool:
            halves = list(pool.map(lambda r: _subtree(codes, boxes, r[0], r[1], leaf_size),
                                   [(0, cut), (cut, num_triangles)]))
        tree = _rooted(*halves)
    return BVH(lower=tree.lower, upper=tree.upper, skip=tree.skip, first=tree.first, count=tree.count,
               order=order.astype(np.int64), depth=tree.depth)


#: A mesh of more triangles than this has its root's two subtrees built at once (:func:`build_bvh`).
PARALLEL_SMALLEST = 1 << 15


@dataclass(frozen=True, eq=False)
class _Subtree:
    """A subtree of :func:`build_bvh`'s tree in pre-order: the fields of :class:`BVH` for its nodes
    (``skip`` counted from its root, ``first`` into the whole sorted list), and its root's exact box
    ``box``, (6,) float32 ``(low, -high)``, before the pad."""

    lower: np.ndarray
    upper: np.ndarray
    skip: np.ndarray
    first: np.ndarray
    count: np.ndarray
    box: np.ndarray
    depth: int


def _subtree(codes: np.ndarray, boxes: np.ndarray, b0: int, e0: int, leaf_size: int) -> _Subtree:
    """The subtree over the sorted triangles ``b0 .. e0 - 1`` (a node of the tree: its cuts are those the
    whole tree makes there), from their Morton ``codes`` and :func:`_sorted_boxes` ``boxes``."""
    codes = codes[b0:e0]
    boxes = boxes[:, b0:e0 + 1]  # (the column after the range: where a reduction may start, unused)

    # 2. The topology, breadth first: node n covers the sorted triangles begin[n] .. end[n] - 1.
    begin, end, left = _split(codes, boxes, leaf_size)
    del codes

    # 3. Pre-order layout: sizes from the leaves up, positions from the root down.
    levels = _levels(left)
    size = np.ones(len(begin), dtype=np.int64)
    for nodes in reversed(levels):
        inner = nodes[left[nodes] >= 0]
        size[inner] += size[left[inner]] + size[left[inner] + 1]  # the right child follows the left
    position = np.zeros(len(begin), dtype=np.int64)
    for nodes in levels:
        inner = nodes[left[nodes] >= 0]
        position[left[inner]] = position[inner] + 1
        position[left[inner] + 1] = position[inner] + 1 + size[left[inner]]
    first_triangle, last_triangle = begin, end
    is_leaf = left < 0
    num_nodes = len(begin)
    skip = np.empty(num_nodes, dtype=np.int32)
    first = np.empty(num_nodes, dtype=np.int32)
    count = np.empty(num_nodes, dtype=np.int32)
    skip[position] = position + size
    first[position] = first_triangle + b0
    count[position] = np.where(is_leaf, last_triangle - first_triangle, 0)

    # 4. The boxes, exactly the unions of the triangles' float32 boxes: the leaves by a segmented
    #    reduction over the sorted triangles (the leaves, in pre-order, tile them; the last one ends at
    #    the range's end), then the inner nodes level by level, deepest first, in breadth-first
    #    numbering: there a level's inner nodes have their children in pairs, one after the other, as the
    #    next level (contiguous rows, no gathers); then the boxes are put in pre-order.
    bfs_boxes = np.empty((num_nodes, 6), dtype=np.float32)  # lower, then -upper
    leaves = np.flatnonzero(is_leaf)
    leaves = leaves[np.argsort(first_triangle[leaves])]
    bfs_boxes[leaves] = np.minimum.reduceat(boxes[:, :-1], first_triangle[leaves], axis=1).T
    del boxes
    for nodes in reversed(levels):
        inner = nodes[left[nodes] >= 0]
        if len(inner):
            children = bfs_boxes[left[inner[0]]:left[inner[-1]] + 2].reshape(-1, 2, 6)
            bfs_boxes[inner] = np.minimum(children[:, 0], children[:, 1])
    node_boxes = np.empty_like(bfs_boxes)
    node_boxes[position] = bfs_boxes
    del bfs_boxes
    lower, upper = _padded(node_boxes)
    return _Subtree(lower=lower, upper=upper, skip=skip, first=first, count=count, box=node_boxes[0].copy(),
                    depth=len(levels))


def _rooted(left: _Subtree, right: _Subtree) -> _Subtree:
    """The tree of a root over two :class:`_Subtree` (the left one's triangles first)."""
    num_left = len(left.skip)
    num_nodes = 1 + num_left + len(right.skip)
    box = np.minimum(left.box, right.box)
    lower, upper = _padded(box[None])
    return _Subtree(
        lower=np.concatenate([lower, left.lower, right.lower]),
        upper=np.concatenate([upper, left.upper, right.upper]),
        skip=np.concatenate([np.array([num_nodes], np.int32), left.skip + 1, right.skip + (1 + num_left)]),
        first=np.concatenate([left.first[:1], left.first, right.first]),
        count=np.concatenate([np.zeros(1, np.int32), left.count, right.count]),
        box=box, depth=1 + max(left.depth, right.depth))


def _padded(node_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """5. The (N, 3) float32 lower and upper corners of (N, 6) float32 exact boxes ``(low, -high)``,
    padded (see :class:`BVH`), then rounded outwards to float32. A child's pad is at most its parent's,
    so boxes nest."""
    lower = node_boxes[:, :3].astype(np.float64)
    upper = -node_boxes[:, 3:].astype(np.float64)
    side = upper - lower
    extent = np.maximum(np.maximum(side[:, 0], side[:, 1]), side[:, 2])  # (columns: 5 times faster than max(axis=1))
    reach = np.maximum(np.abs(lower), np.abs(upper))
    magnitude = np.maximum(np.maximum(reach[:, 0], reach[:, 1]), reach[:, 2])
    del side, reach
    pad = (1e-6 * np.maximum(extent, magnitude) + 1e-7)[:, None]
    return _round_down_f32(lower - pad), _round_up_f32(upper + pad)


def _spread_table(bits: int) -> np.ndarray:
    """(2^bits,) uint64: each index's bits spread 3 apart (bit i to bit 3 i), for :func:`_morton_codes`."""
    index = np.arange(1 << bits, dtype=np.uint64)
    spread = np.zeros(1 << bits, dtype=np.uint64)
    for bit in range(bits):
        spread |= ((index >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit)
    return spread


_SPREAD = _spread_table(11)  # 21 bits an axis: spread in two looks, bits 0 to 10 and 11 to 20


def _morton_codes(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(T,) uint64 Morton codes of the centres of (T, 3) boxes ``low .. high``: 21 bits an axis, interleaved,
    over the cube around the centres (cubic cells, so that a flat or long mesh is cut across its long side
    first). Each axis is worked on as one contiguous column, and its bits spread by table."""
    centres = [0.5 * (low[:, axis].astype(np.float64) + high[:, axis]) for axis in range(3)]
    start = [float(c.min()) for c in centres]
    extent = max(float(c.max()) - s for c, s in zip(centres, start))
    scale = (2**21 - 1) / extent if extent > 0 else 0.0
    code = np.zeros(len(low), dtype=np.uint64)
    for axis, (centre, s) in enumerate(zip(centres, start)):
        cells = ((centre - s) * scale).astype(np.int64)
        part = np.take(_SPREAD, cells & 2047)
        part |= np.take(_SPREAD, cells >> 11) << np.uint64(33)
        part <<= np.uint64(axis)
        code |= part
    return code


def _sorted_boxes(low: np.ndarray, high: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(6, T + 1) float32: column k the box of triangle ``order[k]`` as ``(low, -high)``, so that one
    ``np.minimum`` reduction gives both corners of a union, and the last column an empty box (a sentinel,
    so that a reduction may start at a node's end: its result is not used). Coordinates in rows: a
    segmented reduction then runs along contiguous memory, several times faster than across (T, 6) rows
    when the segments are long."""
    boxes = np.empty((6, len(order) + 1), dtype=np.float32)
    boxes[:3, :-1] = np.take(low, order, axis=0).T
    boxes[3:, :-1] = np.take(high, order, axis=0).T
    np.negative(boxes[3:], out=boxes[3:])
    boxes[:, -1] = np.inf
    return boxes


def _half_area(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Half the surface area of boxes (..., 3); 0 for an empty box (low > high)."""
    d = np.maximum(high - low, 0.0)
    return d[..., 0] * d[..., 1] + d[..., 1] * d[..., 2] + d[..., 2] * d[..., 0]


def _split(codes, boxes, leaf_size: int):
    """The tree over the sorted triangles, breadth first, by binned SAH cuts (see :func:`build_bvh`);
    ``boxes`` are the sorted triangles' boxes of :func:`_sorted_boxes`.

    Returns ``(begin, end, left)``, (N,) int64: node n covers triangles ``begin[n] .. end[n] - 1``; its
    children are nodes ``left[n]`` and ``left[n] + 1``, or ``left[n] == -1`` for a leaf.
    """
    count = len(codes)
    b, e = np.array([0]), np.array([count])
    begin, end, left = [b], [e], []
    total = 1
    while True:
        split = (e - b) > leaf_size
        lefts = np.full(len(b), -1, dtype=np.int64)
        left.append(lefts)
        if not split.any():
            break
        sb, se = b[split], e[split]
        cut = _cuts(sb, se, codes, boxes)
        lefts[split] = total + 2 * np.arange(len(sb))
        b = np.stack([sb, cut], axis=1).ravel()
        e = np.stack([cut, se], axis=1).ravel()
        begin.append(b)
        end.append(e)
        total += len(b)
    return np.concatenate(begin), np.concatenate(end), np.concatenate(left)


def _cuts(b, e, codes, boxes) -> np.ndarray:
    """Where the right child of each node of sorted triangles ``b .. e - 1`` (more than a leaf's) starts:
    by the SAH for a node of more than :data:`SAH_SMALLEST` triangles, else at its cell's halves."""
    cut = _radix_cuts(b, e, codes)  # a small node: at its cell's halves (the SAH would cost more)
    large = e - b > SAH_SMALLEST
    if large.any():
        cut[large] = _best_cuts(b[large], e[large], codes, boxes)
    return cut


def _best_cuts(b, e, codes, boxes) -> np.ndarray:
    """For nodes of sorted triangles ``b .. e - 1`` (more than a leaf's), where each one's right child starts.

    The arrays are laid out bin by bin (bins on the first axis), so that the running unions of the
    bins' boxes from the left and from the right are a few passes over contiguous rows.
    """
    n = len(b)
    first, last = codes[b], codes[e - 1]
    differ = first ^ last
    same = differ == 0  # all one code: cut in half
    top = _highest_bit(np.where(same, np.uint64(1), differ))
    shift = np.maximum(top - (SAH_BITS - 1), 0)
    cells = np.left_shift(1, top - shift + 1)  # 2 .. SAH_BINS cells of the node's prefix
    base = (first >> (top + 1).astype(np.uint64)) << (top + 1).astype(np.uint64)
    j = np.arange(1, SAH_BINS)[:, None]
    values = base + (np.minimum(j, cells - 1).astype(np.uint64) << shift.astype(np.uint64))
    # Node by node the values increase (the nodes' ranges are in order), which searchsorted is fast for.
    cuts = np.clip(np.searchsorted(codes, values.T.ravel()).reshape(n, SAH_BINS - 1).T, b, e)
    edges = np.vstack([b, cuts, e])  # (SAH_BINS + 1, n), non-decreasing down each column
    # Reduced node by node (each node's end too, so that its last bin stops there), then bin-major.
    starts = edges.T.ravel()
    bins = np.minimum.reduceat(boxes, starts, axis=1).reshape(6, n, SAH_BINS + 1)[:, :, :-1].transpose(2, 1, 0)
    empty = (edges[1:] == edges[:-1])[..., None]
    bin_low, bin_high = np.where(empty, np.inf, bins[..., :3]), np.where(empty, -np.inf, -bins[..., 3:])
    below = (cuts - b).astype(np.float64)  # (SAH_BINS - 1, n)
    above = (e - cuts).astype(np.float64)
    left_area = _half_area(np.minimum.accumulate(bin_low, axis=0), np.maximum.accumulate(bin_high, axis=0))[:-1]
    right_area = _half_area(np.minimum.accumulate(bin_low[::-1], axis=0)[::-1],
                            np.maximum.accumulate(bin_high[::-1], axis=0)[::-1])[1:]
    cost = left_area * below + right_area * above
    cost *= 1.0 + 1e-6 * np.abs(below - above) / (below + above)  # ties: the more even split
    cost[(below == 0) | (above == 0)] = np.inf
    best = edges[np.argmin(cost, axis=0) + 1, np.arange(n)]
    return np.where(same, (b + e) // 2, best)


def _radix_cuts(b, e, codes) -> np.ndarray:
    """For nodes of sorted triangles ``b .. e - 1``, where the highest bit their Morton codes differ in
    changes (the halves of their cell); in half where the codes are all equal."""
    first, differ = codes[b], codes[b] ^ codes[e - 1]
    same = differ == 0
    top = _highest_bit(np.where(same, np.uint64(1), differ)).astype(np.uint64)
    boundary = ((first >> (top + np.uint64(1))) << (top + np.uint64(1))) + (np.uint64(1) << top)
    return np.where(same, (b + e) // 2, np.clip(np.searchsorted(codes, boundary), b + 1, e - 1))


def _highest_bit(x: np.ndarray) -> np.ndarray:
    """The index of the highest set bit of each (nonzero) uint64, as int64."""
    guess = np.floor(np.log2(x.astype(np.float64))).astype(np.int64)  # off by one near a power of two
    guess -= (x >> guess.astype(np.uint64)) == 0
    guess += (x >> (guess + 1).astype(np.uint64)) != 0
    return guess


def _levels(left: np.ndarray) -> list[np.ndarray]:
    """The nodes of each level, root first, of a tree whose children are ``left[n]`` and ``left[n] + 1``."""
    levels = [np.array([0])]
    while True:
        nodes = levels[-1]
        inner = nodes[left[nodes] >= 0]
        if not len(inner):
            return levels
        levels.append(np.stack([left[inner], left[inner] + 1], axis=1).ravel())


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


# --------------------------------------------------------------------------------------------------------
# The corners' normals and texture coordinates
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CornerAttributes:
    """Per-corner values of the triangles of the meshes that have them, and which triangle has which.

    Attributes
    ----------
    values : numpy.ndarray
        (R, 3, dim) float32: ``values[r, j]`` is corner ``j``'s value of the triangle with row ``r``.
    rows : numpy.ndarray or None
        (T,) int32 over every triangle of the scene (the meshes' kept triangles, one mesh after another):
        its row in ``values``, or -1 for a triangle whose mesh has none; None when every triangle has one
        and ``rows`` would be ``0 .. T - 1`` (a scene of one smooth mesh needs no index).
    """

    values: np.ndarray
    rows: np.ndarray | None


def _gathered(parts: list[np.ndarray | None], counts: list[int], dim: int) -> CornerAttributes | None:
    """The :class:`CornerAttributes` of the meshes' ``parts`` ((T_m, 3, dim) arrays, or None for a mesh
    without them; ``counts[m]`` its triangles), or None when no mesh has any."""
    if all(p is None for p in parts):
        return None
    values = np.concatenate([p for p in parts if p is not None]).astype(np.float32).reshape(-1, 3, dim)
    if all(p is not None for p in parts):
        return CornerAttributes(values, None)
    rows, at = [], 0
    for part, count in zip(parts, counts):
        if part is None:
            rows.append(np.full(count, -1, np.int32))
        else:
            rows.append(np.arange(at, at + count, dtype=np.int32))
            at += count
    return CornerAttributes(values, np.concatenate(rows))


def _kept_corners(values: np.ndarray, corners: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
    """(T, 3, dim): ``values`` at the corner indices ``corners`` (F, 3) of the kept faces."""
    return np.take(values, corners if kept is None else corners[kept], axis=0)


def corner_normals(meshes: list[Mesh], kept: list[np.ndarray | None], counts: list[int],
                   object_space: bool) -> CornerAttributes | None:
    """The unit normals at the corners of the kept triangles of the meshes that have OBJ normals.

    Parameters
    ----------
    meshes : list of Mesh
        The scene's meshes, in order.
    kept, counts : list
        Per mesh, the indices of its kept faces (None: all) and their number
        (:func:`raydiff.scene.placement.placed_faces`).
    object_space : bool
        True: the normals as the file gives them, made unit length (the kernels place them with the
        mesh's pose, which is free). False: placed in world space as Mitsuba 3 transforms normals, by the
        inverse transpose of the scale, then the rotation, and made unit length.

    Returns
    -------
    CornerAttributes or None
        (R, 3, 3) normals; None when no mesh has normals.
    """
    parts = []
    for mesh, keep in zip(meshes, kept):
        if not mesh.smooth:
            parts.append(None)
            continue
        n = _kept_corners(np.asarray(mesh.normals, np.float64), np.asarray(mesh.normal_faces), keep)
        if not object_space:
            n = apply_matrix(n / np.asarray(mesh.scale, np.float64), rotation_matrix(mesh.rotate))
        parts.append(n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-30))
    return _gathered(parts, counts, 3)


def corner_texcoords(meshes: list[Mesh], kept: list[np.ndarray | None], counts: list[int]) -> CornerAttributes | None:
    """The texture coordinates at the corners of the kept triangles of the meshes that have OBJ ``vt``, in
    Mitsuba 3's convention for an OBJ: ``(u, 1 - v)`` (its ``flip_tex_coords``, on by default).

    Parameters are those of :func:`corner_normals`; the answer's values are (R, 3, 2), or None when no
    mesh has texture coordinates.
    """
    parts = []
    for mesh, keep in zip(meshes, kept):
        if mesh.texcoord_faces is None:
            parts.append(None)
            continue
        uv = _kept_corners(np.asarray(mesh.texcoords, np.float64), np.asarray(mesh.texcoord_faces), keep)
        parts.append(np.stack([uv[..., 0], 1.0 - uv[..., 1]], axis=-1))
    return _gathered(parts, counts, 2)
