"""Milliseconds per fit iteration (render, gradient, optimiser step) on every available backend.

    python benchmarks/iteration_speed.py [--width 256 --height 256 --spp 4 --iterations 30] [--optimizer lm]

Scene: a sphere over a floor under one point light whose position is free (benchmarks/common.py), the
scene benchmarks/mitsuba_baseline.py gives Mitsuba 3. If Mitsuba's llvm_ad_rgb variant works here (it
needs an LLVM >= 16 shared library, e.g. Debian's libllvm19), the same run times Mitsuba's iteration too
and prints the ratio. Each backend runs in its own process, so Taichi starts clean each time.
``--optimizer lm`` times a Levenberg-Marquardt iteration instead of Adam's (its Jacobian's renders, the
sums and the trials; Mitsuba's figure stays the gradient iteration's).
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def measure(arch: str, width: int, height: int, spp: int, iterations: int, optimizer: str = "adam") -> float:
    """ms per iteration of raydiff's fit loop on ``arch`` (run inside the child process)."""
    import raydiff
    from common import median_ms, sphere_over_floor
    from raydiff.optim.fit import Fitter, FitSettings

    raydiff.init(arch)
    start, reference = sphere_over_floor(width, height, spp)
    fitter = Fitter(start, reference, FitSettings(iterations=iterations + 5, optimizer=optimizer))
    return median_ms(fitter.step, iterations, warmup=3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--backends", default="cpu,vulkan,cuda")
    parser.add_argument("--no-mitsuba", action="store_true")
    parser.add_argument("--optimizer", choices=("adam", "lm"), default="adam",
                        help="adam: the gradient iteration; lm: a Levenberg-Marquardt iteration")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = (args.width, args.height, args.spp, args.iterations)

    if args.child:
        print(json.dumps({"ms": measure(args.child, *size, optimizer=args.optimizer)}))
        return 0

    from raydiff import backend

    print(f"fit iteration ({args.optimizer}) at {args.width}x{args.height}, {args.spp} spp (median of {args.iterations}):")
    results = {}
    for arch in args.backends.split(","):
        cmd = [sys.executable, __file__, "--child", arch, "--width", str(args.width), "--height",
               str(args.height), "--spp", str(args.spp), "--iterations", str(args.iterations), "--optimizer", args.optimizer]
        probe = subprocess.run([sys.executable, "-c", f"from raydiff import backend; import sys; "
                                f"sys.exit(0 if backend.available('{arch}') else 1)"], capture_output=True)
        if probe.returncode != 0:
            print(f"  raydiff {arch:7s} not available here")
            continue
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"  raydiff {arch:7s} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        results[arch] = json.loads(out.stdout.strip().splitlines()[-1])["ms"]
        print(f"  raydiff {arch:7s} {results[arch]:8.2f} ms/iteration")
    del backend

    if not args.no_mitsuba:
        from mitsuba_baseline import mitsuba_ms_per_iteration

        try:
            mi_ms = mitsuba_ms_per_iteration(args.width, args.height, args.spp, args.iterations)
        except ImportError:
            mi_ms = None
        if mi_ms is None:
            print("  mitsuba llvm_ad_rgb not available (pip install mitsuba; needs libLLVM >= 16)")
        else:
            print(f"  mitsuba llvm_ad_rgb {mi_ms:8.2f} ms/iteration (path, max_depth 2)")
            for arch, ms in results.items():
                print(f"  speed-up of raydiff {arch} over Mitsuba 3: {mi_ms / ms:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
