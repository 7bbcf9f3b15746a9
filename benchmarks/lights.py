"""Cost of lights: compile time and milliseconds per fit iteration against the number of lights.

    python benchmarks/lights.py [--lights 1,2,4,8] [--mesh] [--no-boundary] [--phases]
                                [--width 128 --height 128 --spp 4]

Scene: three spheres over a floor (with ``--mesh``, also a 1,200-triangle sphere mesh) under ``N`` point
lights on a circle, every light's position free. Each count runs in its own process with an empty Taichi
offline cache (so the first iteration's time is the compile time, cold) and prints: the seconds of the
first fit iteration (kernel compilation included) and the median milliseconds of the later ones, wall
and the process's CPU time (every thread's: the steadier figure on a shared machine), of an Adam fit
(what the figures were taken with; `raydiff fit` would take Levenberg-Marquardt here).
``--no-boundary`` leaves the boundary terms (every shadow edge of every light) out of the gradient.
After the table, for every column: the least-squares cost per light, the increment per added light
between consecutive counts, and the last count's value against the line through the first two (1.00x if
the growth is linear). ``--phases`` instead times each phase of the gradient's first call (forward pass,
loss, backward pass, boundary terms: seconds, compilation included) and of a later call (ms), to see
which kernels compile per light (CPU time).
"""

import argparse
import json
import math
import os
import statistics
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
            boundary: bool, phases: bool = False) -> dict:
    """First-iteration seconds and later median ms of a fit of the benchmark scene (in the child)."""
    import numpy as np

    import raydiff
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings

    raydiff.init("cpu")
    scene = raydiff.load_scene_string(scene_text(lights, width, height, spp, mesh), base_dir=os.path.dirname(mesh or HERE))
    reference = Reference("<flat>", np.full((height, width, 3), 0.2, np.float32), True)
    settings = FitSettings(iterations=iterations + 10, tol=0.0, boundary=boundary, optimizer="adam")
    fitter = Fitter(scene, reference, settings)
    import taichi as ti

    if phases:
        return phase_times(fitter)
    t0, c0 = time.perf_counter(), time.process_time()
    fitter.step()
    ti.sync()
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    for _ in range(2):
        fitter.step()
    ti.sync()
    wall, cpu = [], []
    for _ in range(iterations):
        t0, c0 = time.perf_counter(), time.process_time()
        fitter.step()
        ti.sync()
        wall.append(1000 * (time.perf_counter() - t0)), cpu.append(1000 * (time.process_time() - c0))
    return {"first_s": first, "first_cpu_s": first_cpu, "ms": statistics.median(wall), "cpu_ms": statistics.median(cpu)}


PHASES = ("forward", "loss", "backward", "boundary")


def phase_times(fitter) -> dict:
    """CPU seconds of each phase of the gradient's first call (kernel compilation included) and CPU ms
    of a later call (the less of two), for ``--phases``: the forward pass (the visibility kernel, shading
    fused), the loss, the integrator's backward pass (the gradient's visibility, the shading gradient) and the boundary
    terms."""
    import taichi as ti

    grad = fitter.gradient
    integ, loss = grad.integrator, grad.loss
    forward, gradient, edges = grad.seeds(1)
    steps = {"forward": lambda: integ.forward(forward), "loss": lambda: (loss.forward(), loss.backward()),
             "backward": lambda: integ.backward(gradient),
             "boundary": lambda: grad.boundary.backward(edges) if grad.boundary is not None else None}
    out = {}
    for run in ("first", "warm", "warm2"):
        integ.zero_grad()
        for name in PHASES:
            t0 = time.process_time()
            steps[name]()
            ti.sync()
            out.setdefault(name, []).append(time.process_time() - t0)
    return {name: {"first_s": t[0], "ms": 1000 * min(t[1:])} for name, t in out.items()}


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
    parser.add_argument("--phases", action="store_true",
                        help="time each phase of the gradient's first call (compile) and of a later one instead")
    parser.add_argument("--mesh-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.width, args.height, args.spp, args.mesh_file, args.iterations,
                                 not args.no_boundary, args.phases)))
        return 0
    print(f"point lights, all positions free, {args.width}x{args.height}, {args.spp} spp, CPU, cold kernel cache"
          + (", with a 1,200-triangle mesh" if args.mesh else "") + (", no boundary terms" if args.no_boundary else "")
          + f"; load {os.getloadavg()[0]:.1f}")
    if args.phases:
        print(f"{'lights':>6s} " + " ".join(f"{p + ' s / ms':>18s}" for p in PHASES) + "  (CPU time)")
    else:
        print(f"{'lights':>6s} {'first iteration (s)':>20s} {'(CPU s)':>8s} {'ms/iteration':>13s} {'(CPU ms)':>9s}")
    counts, columns = [], {"first iteration (s)": [], "first iteration, CPU (s)": [], "ms/iteration": [],
                           "ms/iteration, CPU": []}
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
            cmd += ["--no-boundary"] if args.no_boundary else []
            cmd += ["--phases"] if args.phases else []
            env = dict(os.environ, TI_OFFLINE_CACHE_FILE_PATH=cache)
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"{n:6d} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if args.phases:
                print(f"{n:6d} " + " ".join(f"{r[p]['first_s']:9.2f} / {r[p]['ms']:6.1f}" for p in PHASES), flush=True)
                continue
            counts.append(n)
            for column, key in zip(columns.values(), ("first_s", "first_cpu_s", "ms", "cpu_ms")):
                column.append(r[key])
            print(f"{n:6d} {r['first_s']:20.2f} {r['first_cpu_s']:8.2f} {r['ms']:13.1f} {r['cpu_ms']:9.1f}", flush=True)
    for what, values in columns.items():
        if len(counts) >= 2:
            print(f"{what}: {growth(counts, values)}")
    return 0


def growth(counts: list[int], values: list[float]) -> str:
    """How ``values`` grow with the light counts: the least-squares line ``a + b N`` (``b`` the cost per
    light), the increment per added light between consecutive counts (constant if linear), and the
    ratio of the last count's value to the line through the first two counts (1 if linear, above 1 if
    faster)."""
    import numpy as np

    b, a = np.polyfit(counts, values, 1)
    steps = [(values[i + 1] - values[i]) / (counts[i + 1] - counts[i]) for i in range(len(counts) - 1)]
    first = steps[0]
    predicted = values[0] + first * (counts[-1] - counts[0])
    against = (f"; at {counts[-1]} lights {values[-1] / predicted:.2f}x the line through the first two counts"
               if predicted > 0 else "; the line through the first two counts falls (noise): no ratio")
    return (f"{a:.2f} + {b:.2f} per light (least squares); per added light "
            + ", ".join(f"{s:.2f}" for s in steps) + against)


if __name__ == "__main__":
    sys.exit(main())
