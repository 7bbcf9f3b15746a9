"""Cost of lights: compile time and milliseconds per fit iteration against the number of lights.

    python benchmarks/lights.py [--lights 1,2,4,8] [--mesh] [--no-boundary] [--width 128 --height 128 --spp 4]

Scene: three spheres over a floor (with ``--mesh``, also a 1,200-triangle sphere mesh) under ``N`` point
lights on a circle, every light's position free. Each count runs in its own process with an empty Taichi
offline cache (so the first iteration's time is the compile time, cold) and prints: the seconds of the
first fit iteration (kernel compilation included) and the median milliseconds of the later ones, of an
Adam fit (what the figures were taken with; `raydiff fit` would take Levenberg-Marquardt here).
``--no-boundary`` leaves the boundary terms (every shadow edge of every light) out of the gradient.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def scene_text(lights: int, width: int, height: int, spp: int, mesh: str | None) -> str:
    """The benchmark scene with ``lights`` point lights (positions free)."""
    objects = [
        "  - {name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}",
        "  - {name: a, type: sphere, center: [-1, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}",
        "  - {name: b, type: sphere, center: [0, 0.5, -0.5], radius: 0.5, albedo: [0.2, 0.8, 0.3]}",
        "  - {name: c, type: sphere, center: [1, 0.5, 0], radius: 0.5, albedo: [0.3, 0.2, 0.8]}",
    ]
    if mesh:
        objects.append(f"  - {{name: m, type: mesh, file: {mesh}, translate: [0, 1.6, -1], scale: 0.4, albedo: 0.5}}")
    lines = ["camera: {position: [0, 2, 5], look_at: [0, 0.5, 0], fov: 45}",
             f"film: {{width: {width}, height: {height}, spp: {spp}}}", "objects:", *objects, "lights:"]
    for i in range(lights):
        a = 2 * math.pi * i / lights
        lines.append(f"  - {{name: l{i}, type: point, position: [{2 * math.cos(a):.3f}, 3, {2 * math.sin(a):.3f}], "
                     f"intensity: {10.0 / lights:.3f}}}")
    lines.append("optimize:")
    lines += [f"  lights.l{i}.position: {{}}" for i in range(lights)]
    return "\n".join(lines) + "\n"


def sphere_obj(path: str, rings: int = 20, segments: int = 30) -> None:
    """A UV sphere of ``2 * rings * segments`` triangles (about) written as an OBJ file."""
    verts = [(math.sin(math.pi * r / rings) * math.cos(2 * math.pi * s / segments), math.cos(math.pi * r / rings),
              math.sin(math.pi * r / rings) * math.sin(2 * math.pi * s / segments))
             for r in range(rings + 1) for s in range(segments)]
    faces = []
    for r in range(rings):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            c, d = a + segments, b + segments
            if r > 0:
                faces.append((a, b, d))
            if r < rings - 1:
                faces.append((a, d, c))
    with open(path, "w") as f:
        f.writelines(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in verts)
        f.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)


def measure(lights: int, width: int, height: int, spp: int, mesh: str | None, iterations: int,
            boundary: bool) -> dict:
    """First-iteration seconds and later median ms of a fit of the benchmark scene (in the child)."""
    import numpy as np

    import raydiff
    from common import median_ms
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings

    raydiff.init("cpu")
    scene = raydiff.load_scene_string(scene_text(lights, width, height, spp, mesh), base_dir=os.path.dirname(mesh or HERE))
    reference = Reference("<flat>", np.full((height, width, 3), 0.2, np.float32), True)
    settings = FitSettings(iterations=iterations + 10, tol=0.0, boundary=boundary, optimizer="adam")
    fitter = Fitter(scene, reference, settings)
    t0 = time.perf_counter()
    fitter.step()
    import taichi as ti

    ti.sync()
    first = time.perf_counter() - t0
    return {"first_s": first, "ms": median_ms(fitter.step, iterations, warmup=2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lights", default="1,2,4,8")
    parser.add_argument("--mesh", action="store_true", help="add a 1,200-triangle mesh")
    parser.add_argument("--no-boundary", action="store_true", help="leave the boundary terms out")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mesh-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.width, args.height, args.spp, args.mesh_file, args.iterations,
                                 not args.no_boundary)))
        return 0
    print(f"point lights, all positions free, {args.width}x{args.height}, {args.spp} spp, CPU, cold kernel cache"
          + (", with a 1,200-triangle mesh" if args.mesh else "") + (", no boundary terms" if args.no_boundary else ""))
    print(f"{'lights':>6s} {'first iteration (s)':>20s} {'ms/iteration':>13s}")
    with tempfile.TemporaryDirectory() as tmp:
        mesh_file = None
        if args.mesh:
            mesh_file = os.path.join(tmp, "ball.obj")
            sphere_obj(mesh_file)
        for n in (int(s) for s in args.lights.split(",")):
            cache = tempfile.mkdtemp(dir=tmp)
            cmd = [sys.executable, __file__, "--child", str(n), "--width", str(args.width), "--height",
                   str(args.height), "--spp", str(args.spp), "--iterations", str(args.iterations)]
            if mesh_file:
                cmd += ["--mesh-file", mesh_file]
            if args.no_boundary:
                cmd.append("--no-boundary")
            env = dict(os.environ, TI_OFFLINE_CACHE_FILE_PATH=cache)
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"{n:6d} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n:6d} {r['first_s']:20.2f} {r['ms']:13.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
