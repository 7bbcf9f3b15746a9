"""The shading gradient (``shade.grad``) and the gradient pass, with and without each of their shortcuts.

    python benchmarks/gradient_pass.py [--scenes three_spheres,two_lights,mesh_light]
                                       [--width 256 --height 256 --spp 4 --iterations 10] [--threads 1,0]

The scenes of benchmarks/versus_mitsuba.py (every point light's position free: the geometry constant).
Four integrators per scene, on the same samples: ``plain`` (the shading gradient recomputes every hit and
reads the light from the pool: one float atomic per sample and free scalar), ``copies`` (the free light
scalars read from their 0-D copies, raydiff/device/fixed_reads.py), ``records`` (radiance differentiated
from the visibility pass's records, ``ShadingRecords`` in raydiff/kernels/integrator.py) and ``both`` (the
default). For each: the shading gradient alone (``Integrator.backward`` over records of its own seed, so no
visibility is traced), and the gradient pass (``backward`` with a new seed: visibility + shading gradient),
median wall-clock and CPU (process) ms over ``--iterations``. ``--threads``: 1 runs
``raydiff.init("cpu", deterministic=True)`` (one thread), 0 the default (every core); each in its own
process. On a shared machine the CPU time of the one-thread runs is the steadiest figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import add_scene_arguments  # noqa: E402

SEED = 5


def _timed(step, iterations: int) -> tuple[float, float]:
    """Median (wall ms, CPU ms) of ``step()`` after one warm-up call, synchronising after each."""
    import taichi as ti

    step()
    ti.sync()
    wall, cpu = [], []
    for _ in range(iterations):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        ti.sync()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(wall), statistics.median(cpu)


def measure(name: str, width: int, height: int, spp: int, iterations: int, threads: int) -> dict:
    """{config: {"shade.grad": (wall, cpu), "gradient pass": (wall, cpu)}} (in the child process)."""
    import numpy as np

    import raydiff
    from raydiff.device.scene import DeviceScene
    from raydiff.kernels.integrator import Integrator
    from raydiff.scene.parameters import resolve_all
    from versus_mitsuba import benchmark_scene

    raydiff.init("cpu", deterministic=threads == 1)
    scene = benchmark_scene(name, width, height, spp)
    with_copies = DeviceScene(scene, resolve_all(scene))
    without = DeviceScene(scene, resolve_all(scene))
    without.fixed_reads.fields.clear()  # every read of the pool is the pool's
    configs = {"plain": Integrator(without, shading_records=False), "copies": Integrator(with_copies, shading_records=False),
               "records": Integrator(without), "both": Integrator(with_copies)}
    rng = np.random.default_rng(1)
    image_grad = rng.normal(scale=1e-3, size=configs["both"].image.shape + (3,)).astype(np.float32)
    out, gradients = {}, {}
    for label, integ in configs.items():
        integ.forward(SEED)
        integ.image.grad.from_numpy(image_grad)
        integ.dev.pool.grad.fill(0.0)
        integ.backward(SEED + 1)  # records (hit, visibility and the shading records) of the seed SEED + 1
        gradients[label] = integ.dev.pool.grad.to_numpy()[integ.dev.free_offsets]
        shading = _timed(lambda: integ.backward(SEED + 1), iterations)  # the records are reused: shading only

        def gradient_pass():
            integ._records = None  # as after a forward pass with another seed: visibility is traced again
            integ.backward(SEED + 1)

        out[label] = {"shade.grad": shading, "gradient pass": _timed(gradient_pass, iterations)}
    reference = gradients["plain"]
    scale = float(np.abs(reference).max())
    for label, g in gradients.items():
        out[label]["max |difference| / max |gradient|"] = float(np.abs(g - reference).max()) / scale
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_arguments(parser)
    parser.add_argument("--threads", default="1,0", help="1: one thread; 0: every core (comma-separated)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, threads = args.child.split(":")
        print(json.dumps(measure(name, args.width, args.height, args.spp, args.iterations, int(threads))))
        return 0
    print(f"ms, {args.width}x{args.height}, {args.spp} spp, cpu, median of {args.iterations}: wall / CPU (process)")
    for name in args.scenes.split(","):
        for threads in args.threads.split(","):
            cmd = [sys.executable, __file__, "--child", f"{name}:{threads}", "--width", str(args.width),
                   "--height", str(args.height), "--spp", str(args.spp), "--iterations", str(args.iterations)]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{name}: failed\n{run.stderr[-2000:]}")
                continue
            result = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"  {name}, {'1 thread' if threads == '1' else 'every core'}:")
            for label, row in result.items():
                cells = "   ".join(f"{key} {row[key][0]:6.1f} / {row[key][1]:6.1f}" for key in ("shade.grad", "gradient pass"))
                print(f"      {label:8s} {cells}   gradient vs plain {row['max |difference| / max |gradient|']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
