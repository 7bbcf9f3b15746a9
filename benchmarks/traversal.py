"""The nearest-hit walks of raydiff/kernels/intersect.py against each other, on a scene's camera rays.

    python benchmarks/traversal.py [--scenes mesh_light,box] [--triangles 1000,100000,1000000]
                                   [--width 256 --height 256 --spp 4 --iterations 20]

For each example scene (scenes/NAME.yaml) and each cube sphere of about N triangles over a floor (the mesh
of benchmarks/large_mesh.py), one process traces the scene's camera rays (width x height x spp, jittered
in each pixel) with ``nearest`` built both ways, ``ordered`` (nearer children first, pruned by the best hit:
the renderer's) and ``preorder`` (the stackless walk), alternately, and prints the median milliseconds of a
pass over all rays for each, their ratio, and whether the two found the same records (they must). A pass
is one kernel launch; nothing else runs in it, so this is the traversal's cost alone.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def child(scene_path: str, width: int, height: int, spp: int, iterations: int) -> dict:
    """Time both walks on the camera rays of the scene at ``scene_path``, in this (fresh) process."""
    import taichi as ti

    import raydiff
    from common import median_ms
    from raydiff.device.scene import DeviceScene
    from raydiff.kernels.camera import make_camera
    from raydiff.kernels.intersect import make_intersector

    raydiff.init("cpu")
    scene = raydiff.load_scene(scene_path)
    dev = DeviceScene(scene)
    camera = make_camera(dev, width, height, spp)
    walks = {"ordered": make_intersector(dev)[0], "preorder": make_intersector(dev, ordered=False)[0]}
    codes = {name: ti.field(ti.i32, shape=(height, width, spp)) for name in walks}

    def tracer(nearest, code):
        @ti.kernel
        def trace():
            for y, x, s in code:
                o, d = camera.camera_ray(0, x, y, s, ti.u32(0))
                _, code[y, x, s] = nearest(o, d)
        return trace

    passes = {name: tracer(walks[name], codes[name]) for name in walks}
    times = {name: [] for name in walks}
    for _ in range(3):  # alternate, so that a change of load hits both
        for name, trace in passes.items():
            times[name].append(median_ms(trace, max(1, iterations // 3), warmup=1))
    same = bool(np.array_equal(codes["ordered"].to_numpy(), codes["preorder"].to_numpy()))
    return {"triangles": dev.n_triangles, "nodes": dev.n_nodes, "depth": dev.bvh_depth, "same": same,
            **{name: float(np.median(t)) for name, t in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", default="mesh_light")
    parser.add_argument("--triangles", default="1000,100000,1000000")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.width, args.height, args.spp, args.iterations)))
        return

    import large_mesh

    cases = [(name, os.path.join(ROOT, "scenes", f"{name}.yaml")) for name in args.scenes.split(",") if name]
    with tempfile.TemporaryDirectory() as folder:
        for n in [int(c) for c in args.triangles.split(",") if c]:
            obj = os.path.join(folder, f"sphere{n}.obj")
            count = large_mesh.write_cube_sphere(obj, large_mesh.grid_for(n))
            path = os.path.join(folder, f"sphere{n}.yaml")
            with open(path, "w") as f:
                f.write(large_mesh.SCENE.format(width=args.width, height=args.height, spp=args.spp, obj=obj))
            cases.append((f"cube sphere {count}", path))
        print(f"ms per pass of nearest() over {args.width}x{args.height}x{args.spp} camera rays, cpu (median)")
        print(f"  {'scene':28s} {'triangles':>10s} {'depth':>5s} {'ordered':>9s} {'preorder':>9s} {'ratio':>6s}  same")
        for label, path in cases:
            out = subprocess.run([sys.executable, __file__, "--child", path, "--width", str(args.width),
                                  "--height", str(args.height), "--spp", str(args.spp),
                                  "--iterations", str(args.iterations)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {label:28s} {r['triangles']:10d} {r['depth']:5d} {r['ordered']:9.2f} {r['preorder']:9.2f} "
                  f"{r['preorder'] / r['ordered']:6.2f}  {'yes' if r['same'] else 'NO'}")


if __name__ == "__main__":
    main()
