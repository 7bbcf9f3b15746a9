"""Peak memory of a large fit: 1024x1024 pixels, 64 samples per pixel.

    python benchmarks/memory.py [--width 1024 --height 1024 --spp 64 --iterations 2 --arch cpu]

Runs a few fit iterations of the sphere-over-floor scene in a child process and prints the child's peak
resident memory (on the CPU backend the fields live in host memory, so this is the whole footprint). The
integrator keeps per-sample records for at most 8M samples at a time, so memory follows the pixel count,
not pixels x spp.
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
    fitter = Fitter(start, reference, FitSettings(iterations=args.iterations))
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        fitter.step()
    fitter.history_array()
    seconds = (time.perf_counter() - t0) / args.iterations
    integ = fitter.integrator
    print(json.dumps({"batches": integ.n_batches, "batch": integ.batch, "s_per_iteration": seconds}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
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
