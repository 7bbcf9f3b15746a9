"""The nearest-hit walk of raydiff/kernels/intersect.py: nearer children first, pruned by the best hit.

It must find what the stackless pre-order walk finds (the same record, so the same images and gradients)
and what a brute-force search over every triangle finds. Both walks run in one kernel on the same rays;
the scene mixes a triangle soup with a sphere and a quad, so that analytic hits prune the walk too.
"""

import functools
import os

import numpy as np
import pytest
import taichi as ti

import raydiff
import raydiff.kernels.integrator
from raydiff.device.hitrecord import INDEX_MASK, KIND_SHIFT, TRIANGLE
from raydiff.device.scene import DeviceScene
from raydiff.kernels.intersect import make_intersector
from raydiff.scene.model import Camera, Film, Mesh, PointLight, Quad, Scene, Sphere

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RAYS = 4096


def soup_scene(count: int, seed: int) -> Scene:
    """``count`` small random triangles in the cube [-1, 1]^3, a sphere among them and a floor below."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1.0, 1.0, size=(count, 1, 3))
    corners = (centres + rng.normal(scale=0.1, size=(count, 3, 3))).reshape(-1, 3)
    soup = Mesh("soup", "soup.obj", "soup.obj", corners, np.arange(3 * count, dtype=np.int64).reshape(-1, 3))
    return Scene(
        camera=Camera(position=(0.0, 0.5, 4.0), look_at=(0.0, 0.0, 0.0), fov=40.0),
        film=Film(8, 8, 1),
        objects=(
            soup,
            Sphere("ball", (0.3, -0.2, 0.1), 0.35),
            Quad("floor", origin=(-3.0, -1.2, 3.0), edge1=(6.0, 0.0, 0.0), edge2=(0.0, 0.0, -6.0)),
        ),
        lights=(PointLight("key", (0.0, 3.0, 0.0), (1.0, 1.0, 1.0)),),
    )


def random_rays(rng: np.random.Generator, n: int):
    """Unit rays from all around the soup, most aimed into it, some starting inside it, a few along axes."""
    origin = rng.uniform(-3.0, 3.0, size=(n, 3))
    origin[::5] = rng.uniform(-1.0, 1.0, size=(len(origin[::5]), 3))
    target = rng.uniform(-1.0, 1.0, size=(n, 3))
    d = np.where((np.arange(n) % 3 == 0)[:, None], rng.normal(size=(n, 3)), target - origin)
    axis = rng.integers(0, 3, size=n)
    along = np.arange(n) % 11 == 0
    d[along] = 0.0
    d[along, axis[along]] = rng.choice([-1.0, 1.0], size=along.sum())
    return origin, d / np.linalg.norm(d, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def walks():
    """(dev, trace): ``trace(origins, directions)`` -> (t, code) of the ordered walk and of the pre-order one."""
    raydiff.init("cpu")
    dev = DeviceScene(soup_scene(3000, seed=1))
    nearest, _ = make_intersector(dev)
    nearest_preorder, _ = make_intersector(dev, ordered=False)
    origins = ti.Vector.field(3, ti.f32, shape=RAYS)
    directions = ti.Vector.field(3, ti.f32, shape=RAYS)
    t = ti.field(ti.f32, shape=(2, RAYS))
    code = ti.field(ti.i32, shape=(2, RAYS))

    @ti.kernel
    def run():
        for i in range(RAYS):
            t[0, i], code[0, i] = nearest(origins[i], directions[i])
            t[1, i], code[1, i] = nearest_preorder(origins[i], directions[i])

    def trace(o, d):
        origins.from_numpy(o.astype(np.float32))
        directions.from_numpy(d.astype(np.float32))
        run()
        return t.to_numpy(), code.to_numpy()

    return dev, trace


def test_the_ordered_walk_finds_the_record_of_the_preorder_walk(walks):
    _, trace = walks
    t, code = trace(*random_rays(np.random.default_rng(2), RAYS))
    np.testing.assert_array_equal(code[0], code[1])
    np.testing.assert_array_equal(t[0], t[1])
    kinds = code[0] >> KIND_SHIFT
    assert (kinds == TRIANGLE).sum() > RAYS // 4  # the rays do exercise the tree
    assert (code[0] < 0).sum() > 100 and (kinds != TRIANGLE).sum() > (code[0] < 0).sum() + 100


def brute_force(triangles: np.ndarray, o: np.ndarray, d: np.ndarray, eps: float):
    """(t, index) of each ray's nearest triangle hit in (eps, inf), float64 Moller-Trumbore; (inf, -1) if none."""
    v0, e1, e2 = triangles[:, 0], triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    p = np.cross(d[:, None], e2[None])
    det = np.einsum("tk,rtk->rt", e1, p)
    inv = 1.0 / np.where(np.abs(det) > 1e-20, det, np.nan)
    s = o[:, None] - v0[None]
    u = np.einsum("rtk,rtk->rt", s, p) * inv
    q = np.cross(s, e1[None])
    v = np.einsum("rk,rtk->rt", d, q) * inv
    t = np.einsum("tk,rtk->rt", e2, q) * inv
    ok = (u >= 0) & (v >= 0) & (u + v <= 1) & (t > eps)
    t = np.where(ok, t, np.inf)
    k = np.argmin(t, axis=1)
    best = t[np.arange(len(t)), k]
    return best, np.where(np.isfinite(best), k, -1)


def test_the_ordered_walk_finds_the_nearest_triangle_of_a_brute_force_search(walks):
    dev, trace = walks
    o, d = random_rays(np.random.default_rng(3), 1024)
    t, code = trace(np.resize(o, (RAYS, 3)), np.resize(d, (RAYS, 3)))
    t, code = t[0, :1024], code[0, :1024]
    v0 = dev.tri_v0.to_numpy().astype(np.float64)
    triangles = np.stack([v0, v0 + dev.tri_e1.to_numpy(), v0 + dev.tri_e2.to_numpy()], axis=1)
    expected_t, expected = brute_force(triangles, o, d, dev.epsilon)
    on_triangle = (code >> KIND_SHIFT) == TRIANGLE
    # Where a triangle was recorded it is the nearest one (or one as near, within float32 rounding) ...
    index = code[on_triangle] & INDEX_MASK
    same = index == expected[on_triangle]
    np.testing.assert_allclose(t[on_triangle], expected_t[on_triangle], rtol=1e-4, atol=1e-5)
    assert same.mean() > 0.99
    # ... and where none was, the nearest triangle is farther than the recorded sphere or quad (or absent).
    assert np.all(expected_t[~on_triangle] >= t[~on_triangle] * (1 - 1e-4) - 1e-5)
    assert on_triangle.sum() > 300


#: A mesh over a floor, a moving mesh (placed by a kernel) and a low-poly outline; every mesh scene's
#: camera rays are compared by ``python benchmarks/traversal.py --scenes ...`` (its column "same").
MESH_SCENES = ("mesh_light", "mesh_pose", "edges_lowpoly_outline")


@pytest.mark.parametrize("name", MESH_SCENES)
def test_mesh_scenes_render_as_with_the_preorder_walk(name, monkeypatch, cpu):
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    ordered = raydiff.render(scene, spp=2)
    monkeypatch.setattr(raydiff.kernels.integrator, "make_intersector",
                        functools.partial(make_intersector, ordered=False))
    preorder = raydiff.render(scene, spp=2)
    np.testing.assert_array_equal(ordered, preorder)
