"""Peak memory of a large fit: 1024x1024 pixels, 64 samples per pixel; and the budget's formula against it.

    python benchmarks/memory.py [--width 1024 --height 1024 --spp 64 --iterations 2 --arch cpu]
    python benchmarks/memory.py --sweep [--arch cpu]

The first form runs a few fit iterations of the sphere-over-floor scene in a child process and prints the
child's peak resident memory (on the CPU backend the fields live in host memory, so this is the whole
footprint). The integrator keeps per-sample records for at most 8M samples at a time, so memory follows
the pixel count, not pixels x spp.

``--sweep`` runs the real commands (``raydiff fit`` with frames, its animation and report, and ``raydiff
render``) on that scene at a few film sizes and spp, each in a child process of its own, and prints each
child's peak resident memory next to what :func:`raydiff.run.budget.estimate` says it needs: the
calibration in docs/scene-format.md ("Limits and memory") is its output.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(args) -> None:
    sys.path.insert(0, HERE)
    import raydiff
    from common import sphere_over_floor
    from raydiff.optim.fit import Fitter, FitSettings

    raydiff.init(args.arch)
    start, reference = sphere_over_floor(args.width, args.height, args.spp)
    fitter = Fitter(start, reference, FitSettings(iterations=args.iterations, optimizer="adam"))  # as calibrated
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        fitter.step()
    fitter.history_array()
    seconds = (time.perf_counter() - t0) / args.iterations
    integ = fitter.integrator
    print(json.dumps({"batches": integ.n_batches, "batch": integ.batch, "s_per_iteration": seconds}))


# (command, width, height, spp, iterations, frame_every) of the sweep
SWEEP = [
    ("fit", 64, 64, 4, 3, 1),
    ("fit", 256, 256, 4, 3, 1),
    ("fit", 768, 768, 4, 3, 1),
    ("fit", 768, 768, 4, 3, 0),
    ("render", 256, 256, 16, 0, 0),
    ("render", 1536, 1536, 4, 0, 0),
]


def _peak_of(cmd: list[str], cwd: str) -> tuple[int, float, int]:
    """Run ``cmd``; its exit code, its wall time and its own peak resident memory in bytes (os.wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.perf_counter() - start, usage.ru_maxrss * 1024  # KiB on Linux


def sweep(arch: str) -> int:
    import tempfile

    import numpy as np

    sys.path.insert(0, HERE)
    import raydiff
    from common import SPHERE_OVER_FLOOR
    from raydiff.run.budget import estimate, format_bytes

    print(f"{'command':8} {'film':>10} {'spp':>4} {'frames':>6}  {'measured':>9}  {'estimate':>9}  ratio  seconds")
    for command, width, height, spp, iterations, frame_every in SWEEP:
        with tempfile.TemporaryDirectory() as folder:
            text = SPHERE_OVER_FLOOR.format(width=width, height=height, spp=spp)
            scene_path = os.path.join(folder, "scene.yaml")
            with open(scene_path, "w", encoding="utf-8") as f:
                f.write(text)
            scene = raydiff.load_scene(scene_path)
            cli = [sys.executable, "-m", "raydiff_cli.main"]
            if command == "fit":
                raydiff.write_image(os.path.join(folder, "ref.exr"), np.full((height, width, 3), 0.2, np.float32))
                cmd = cli + ["fit", scene_path, "ref.exr", "--arch", arch, "--iterations", str(iterations),
                             "--frame-every", str(frame_every), "--out", "out", "--quiet"]
            else:
                cmd = cli + ["render", scene_path, "-o", "out.png", "--arch", arch]
            code, seconds, peak = _peak_of(cmd, folder)
            if code != 0:
                print(f"{command} {width}x{height} failed (exit {code})", file=sys.stderr)
                return 1
            needs = estimate(scene, spp, command, iterations=iterations, frame_every=frame_every)
            total = sum(n.bytes for n in needs)  # on the CPU backend every part is host memory
            print(f"{command:8} {f'{width}x{height}':>10} {spp:>4} {frame_every or '-':>6}  {format_bytes(peak):>9}  "
                  f"{format_bytes(total):>9}  {total / peak:5.2f}  {seconds:7.1f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sweep", action="store_true", help="measure the real commands against the budget's estimate")
    args = parser.parse_args()
    if args.sweep:
        return sweep(args.arch)
    if args.child:
        child(args)
        return 0
    cmd = [sys.executable, __file__, "--child", "--width", str(args.width), "--height", str(args.height),
           "--spp", str(args.spp), "--iterations", str(args.iterations), "--arch", args.arch]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return 1
    info = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # KiB on Linux
    print(f"{args.width}x{args.height}, {args.spp} spp on {args.arch}: {info['batches']} batches of "
          f"{info['batch']} spp, {info['s_per_iteration']:.2f} s/iteration, peak memory {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
