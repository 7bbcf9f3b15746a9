"""Large meshes: the time and memory of reading an OBJ, building its BVH and starting a fit, and the cost
of a fit iteration as triangles grow.

    python benchmarks/large_mesh.py [--triangles 1000000] [--sweep 12,1000,10000,100000,1000000]
                                    [--width 256 --height 256 --spp 4 --iterations 10] [--no-mitsuba] [--smooth]

The mesh is a sphere of radius 0.5 made of a cube's six faces, each an n x n grid of quads split in two
(12 n^2 triangles: n = 1 is the cube, n = 289 about 1M), written as plain ``v``/``f`` lines into a temporary
folder (``--smooth``: with a ``vt`` and a ``vn`` per vertex and ``f v/vt/vn`` faces, so that it is read
with them and shaded smooth). It sits on a floor under one point light whose position is free (as in
benchmarks/common.py).

The load run (in a fresh process, so that its peak resident memory is its own) times, in wall and CPU
seconds (this process's, all threads): reading the OBJ
(``read_obj``), loading the scene (which reads it), placing the triangles and building the BVH, uploading
the scene to the device (``DeviceScene``), and a fit's start (``Fitter``) and first iteration (compiling
included; without the boundary terms unless ``--boundary``); it counts the BVH builds in the fit and
prints the process's peak resident memory (VmHWM). Another process counts the box and triangle tests a
camera ray needs in the BVH (the reference walk on 300 rays): its quality, whatever the machine's load. When Mitsuba 3 is installed, a second fresh
process loads the same OBJ with ``scalar_rgb`` and prints its time and peak memory.

The sweep (``--sweep``, each size in its own process) prints the median milliseconds per fit iteration for
each triangle count, without the boundary terms unless ``--boundary`` (their edge sampling, not the BVH,
is what a large mesh's iteration costs with them: see docs/performance.md).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

SCENE = """
camera: {{position: [0, 1.2, 2.6], look_at: [0, 0.45, 0], fov: 40}}
film: {{width: {width}, height: {height}, spp: {spp}}}
objects:
  - {{name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}}
  - {{name: ball, type: mesh, file: {obj}, translate: [0, 0.5, 0], albedo: [0.8, 0.3, 0.2]}}
lights:
  - {{name: light, type: point, position: [1, 3, 1], intensity: 10}}
optimize:
  lights.light.position: {{}}
"""


def grid_for(triangles: int) -> int:
    """The n whose cube sphere has the triangle count nearest ``triangles`` (12 n^2)."""
    return max(1, round((triangles / 12) ** 0.5))


def write_cube_sphere(path: str, n: int, smooth: bool = False) -> int:
    """Write the cube sphere of n x n quads a face to ``path``; return its triangle count. ``smooth``: with
    a ``vn`` (the sphere's normal) and a ``vt`` per vertex, and faces ``f v/vt/vn`` (shaded smooth)."""
    s = np.linspace(-1.0, 1.0, n + 1)
    u, v = np.meshgrid(s, s, indexing="ij")
    one = np.ones_like(u)
    faces = [(one, u, v), (-one, v, u), (u, one, v), (v, -one, u), (u, v, one), (v, u, -one)]
    points = np.concatenate([np.stack(f, axis=-1).reshape(-1, 3) for f in faces])
    points = 0.5 * points / np.linalg.norm(points, axis=1, keepdims=True)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    a = (i * (n + 1) + j).ravel()
    quads = np.stack([a, a + (n + 1), a + (n + 2), a + 1], axis=1)
    quads = np.concatenate([quads + k * (n + 1) ** 2 for k in range(6)]) + 1  # OBJ is 1-based
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    with open(path, "w") as f:
        f.write(f"# cube sphere, {n} x {n} quads a face\n")
        f.write(("v %.7f %.7f %.7f\n" * len(points)) % tuple(points.ravel()))
        if smooth:
            uv = np.stack([np.arctan2(points[:, 2], points[:, 0]) / (2 * np.pi) % 1.0, 0.5 + 2.0 * points[:, 1] / np.pi],
                          axis=1)
            f.write(("vt %.6f %.6f\n" * len(uv)) % tuple(uv.ravel()))
            f.write(("vn %.6f %.6f %.6f\n" * len(points)) % tuple((2.0 * points).ravel()))
            f.write(("f %d/%d/%d %d/%d/%d %d/%d/%d\n" * len(tris)) % tuple(np.repeat(tris.ravel(), 3)))
        else:
            f.write(("f %d %d %d\n" * len(tris)) % tuple(tris.ravel()))
    return len(tris)


def peak_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, which (unlike getrusage's ru_maxrss, kept across
    exec) starts over in a new program."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # pragma: no cover (not Linux)


def _timed(work):
    """``(work(), wall seconds, CPU seconds)``: the CPU time is this process's, all threads, so that a step
    run on two cores shows more CPU than wall time, and one slowed by other work on the machine less."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def load_run(scene_path: str, obj_path: str, boundary: bool) -> dict:
    """The timings of one load, in this (fresh) process."""
    import raydiff
    from raydiff.device import meshes
    from raydiff.device.scene import DeviceScene
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings
    from raydiff.scene.obj import read_obj
    from raydiff.scene.parameters import resolve_all
    from raydiff.scene.placement import mesh_triangles

    raydiff.init("cpu")
    out = {"baseline_mb": peak_mb()}
    builds = []
    original = meshes.build_bvh

    def counted(*args, **kwargs):
        t0 = time.perf_counter()
        bvh = original(*args, **kwargs)
        builds.append(time.perf_counter() - t0)
        return bvh

    meshes.build_bvh = counted

    out["parse_s"], out["parse_cpu_s"] = _timed(lambda: read_obj(obj_path))[1:]
    scene, out["load_scene_s"], out["load_scene_cpu_s"] = _timed(lambda: raydiff.load_scene(scene_path))
    mesh = next(o for o in scene.objects if o.type == "mesh")
    triangles, out["place_s"], out["place_cpu_s"] = _timed(lambda: mesh_triangles(mesh))
    out["triangles"] = len(triangles)
    out["bvh_s"], out["bvh_cpu_s"] = _timed(lambda: original(triangles))[1:]
    del triangles

    out["device_scene_s"], out["device_scene_cpu_s"] = _timed(lambda: DeviceScene(scene, resolve_all(scene)))[1:]
    out["load_peak_mb"] = peak_mb()
    builds.clear()

    film = scene.film
    reference = Reference("<constant>", np.full((film.height, film.width, 3), 0.2, np.float32), True)
    t0 = time.perf_counter()
    fitter = Fitter(scene, reference, FitSettings(iterations=2, boundary=boundary))
    out["fitter_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitter.step()
    import taichi as ti

    ti.sync()
    out["first_iteration_s"] = time.perf_counter() - t0
    out["builds_in_fit"] = len(builds)
    out["peak_mb"] = peak_mb()
    return out


def walk_run(obj_path: str, rays: int = 300) -> dict:
    """The BVH's quality, whatever the machine's load: box and triangle tests a camera ray needs, counted by
    the reference walk (:func:`raydiff.device.meshes.traverse_reference`'s loop) on rays from the scene's
    camera across the sphere (fresh process)."""
    import math

    from raydiff.device import meshes
    from raydiff.scene.obj import read_obj

    vertices, faces = read_obj(obj_path)
    triangles = vertices[faces] + np.array([0.0, 0.5, 0.0])
    bvh = meshes.build_bvh(triangles)
    reordered = triangles[bvh.order]
    lower, upper, skip = bvh.lower.tolist(), bvh.upper.tolist(), bvh.skip.tolist()
    first, count = bvh.first.tolist(), bvh.count.tolist()
    rng = np.random.default_rng(0)
    camera, target = np.array([0.0, 1.2, 2.6]), np.array([0.0, 0.45, 0.0])
    boxes = tests = 0
    for _ in range(rays):
        d = target + rng.uniform(-0.7, 0.7, 3) - camera
        o, d = camera.tolist(), (d / np.linalg.norm(d)).tolist()
        inv = [1.0 / c if c else math.inf for c in d]
        best, node = math.inf, 0
        while node < len(skip):
            boxes += 1
            if not meshes._hit_box(lower[node], upper[node], o, inv, d, meshes.RAY_EPSILON, best):
                node = skip[node]
            elif count[node] == 0:
                node += 1
            else:
                for k in range(first[node], first[node] + count[node]):
                    tests += 1
                    t = meshes._hit_triangle(*reordered[k].tolist(), o, d)
                    if meshes.RAY_EPSILON < t < best:
                        best = t
                node = skip[node]
    return {"nodes": bvh.num_nodes, "boxes": boxes / rays, "tests": tests / rays}


def mitsuba_run(obj_path: str) -> dict | None:
    """Mitsuba 3's time to load the OBJ (scalar_rgb) and its peak memory, in this (fresh) process."""
    try:
        import mitsuba as mi
    except ImportError:
        return None
    mi.set_variant("scalar_rgb")
    baseline = peak_mb()
    t0 = time.perf_counter()
    shape = mi.load_dict({"type": "obj", "filename": obj_path})
    seconds = time.perf_counter() - t0
    return {"load_s": seconds, "faces": int(shape.face_count()), "peak_mb": peak_mb(), "baseline_mb": baseline}


def sweep_run(scene_path: str, iterations: int, boundary: bool) -> dict:
    """Median ms per fit iteration on this scene (fresh process)."""
    sys.path.insert(0, HERE)
    import raydiff
    from common import median_ms
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings

    raydiff.init("cpu")
    scene = raydiff.load_scene(scene_path)
    film = scene.film
    reference = Reference("<constant>", np.full((film.height, film.width, 3), 0.2, np.float32), True)
    fitter = Fitter(scene, reference, FitSettings(iterations=iterations + 5, tol=0.0, boundary=boundary))
    return {"ms": median_ms(fitter.step, iterations, warmup=2)}


def child(kind: str, *args: str) -> dict | None:
    """Run ``kind`` in a fresh Python process and return its JSON answer (None if it printed none)."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr}")
    answer = out.stdout.strip().splitlines()[-1]
    return json.loads(answer)


def prepare(folder: str, triangles: int, width: int, height: int, spp: int, smooth: bool = False) -> tuple[str, str, int]:
    obj = os.path.join(folder, f"sphere_{triangles}{'_smooth' if smooth else ''}.obj")
    count = write_cube_sphere(obj, grid_for(triangles), smooth)
    scene = os.path.join(folder, f"sphere_{triangles}.yaml")
    with open(scene, "w") as f:
        f.write(SCENE.format(width=width, height=height, spp=spp, obj=os.path.basename(obj)))
    return scene, obj, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triangles", type=int, default=1_000_000, help="the load run's mesh (0: no load run)")
    parser.add_argument("--sweep", default="", help="comma-separated triangle counts to time a fit iteration at")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--boundary", action="store_true",
                        help="fits with the boundary terms (default: without, to time the render and the BVH)")
    parser.add_argument("--no-mitsuba", action="store_true")
    parser.add_argument("--smooth", action="store_true",
                        help="the OBJ has a vt and a vn per vertex and faces f v/vt/vn: read with them, shaded smooth")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, rest = args.child[0], args.child[1:]
        if kind == "load":
            answer = load_run(rest[0], rest[1], rest[2] == "boundary")
        elif kind == "mitsuba":
            answer = mitsuba_run(*rest)
        elif kind == "walk":
            answer = walk_run(*rest)
        else:
            answer = sweep_run(rest[0], int(rest[1]), rest[2] == "boundary")
        print(json.dumps(answer))
        return 0

    with tempfile.TemporaryDirectory() as folder:
        if args.triangles:
            scene, obj, count = prepare(folder, args.triangles, args.width, args.height, args.spp, args.smooth)
            size = os.path.getsize(obj) / 2**20
            form = ", v/vt/vn faces, shaded smooth" if args.smooth else ""
            print(f"load: a {count}-triangle OBJ ({size:.0f} MB{form}), {args.width}x{args.height}, {args.spp} spp, cpu")
            r = child("load", scene, obj, "boundary" if args.boundary else "no-boundary")
            for key, name in [("parse", "read_obj"), ("load_scene", "load_scene (reads it)"),
                              ("place", "place triangles"), ("bvh", "build BVH"),
                              ("device_scene", "DeviceScene (BVH+upload)")]:
                print(f"  {name:24s} {r[key + '_s']:7.2f} s ({r[key + '_cpu_s']:.2f} s CPU)")
            total = r["load_scene_s"] + r["device_scene_s"]
            cpu = r["load_scene_cpu_s"] + r["device_scene_cpu_s"]
            print(f"  load and build           {total:7.2f} s ({cpu:.2f} s CPU), peak {r['load_peak_mb']:.0f} MB "
                  f"resident (of which {r['baseline_mb']:.0f} MB after import and ti.init)")
            print(f"  Fitter (device, kernels) {r['fitter_s']:7.2f} s, BVH builds in it: {r['builds_in_fit']}")
            print(f"  first iteration          {r['first_iteration_s']:7.2f} s (compiling included)")
            print(f"  peak resident            {r['peak_mb']:7.0f} MB")
            w = child("walk", obj)
            print(f"  BVH: {w['nodes']} nodes; a camera ray takes {w['boxes']:.1f} box and {w['tests']:.1f} "
                  "triangle tests (300 rays, the reference walk)")
            if not args.no_mitsuba:
                m = child("mitsuba", obj)
                if m is None:
                    print("  mitsuba not installed")
                else:
                    print(f"  mitsuba scalar_rgb load  {m['load_s']:7.2f} s, peak {m['peak_mb']:.0f} MB resident "
                          f"(of which {m['baseline_mb']:.0f} MB after import), {m['faces']} faces")
        if args.sweep:
            terms = "with" if args.boundary else "without"
            shading = ", shaded smooth (v/vt/vn)" if args.smooth else ""
            print(f"fit iteration, {args.width}x{args.height}, {args.spp} spp, cpu, {terms} boundary terms{shading} "
                  f"(median of {args.iterations}):")
            for wanted in [int(x) for x in args.sweep.split(",")]:
                scene, _, count = prepare(folder, wanted, args.width, args.height, args.spp, args.smooth)
                r = child("sweep", scene, str(args.iterations), "boundary" if args.boundary else "no-boundary")
                print(f"  {count:8d} triangles  {r['ms']:8.1f} ms/iteration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
