"""What a fit's outputs cost: seconds per iteration with frames and checkpoints at the defaults, and off.

    python benchmarks/outputs.py [--scene scenes/three_spheres.yaml --reference assets/three_spheres_ref.png]
                                 [--iterations 200] [--repeats 2]

Runs ``raydiff fit SCENE REF --arch cpu --tol 0 --iterations N`` (benchmarks/cli_timing.py: the real
command, a fresh process each) with the default outputs (a frame every 10 iterations, a checkpoint every 25)
and with ``--frame-every 0 --checkpoint-every 0``, alternately, and prints per setting: the mean seconds
per iteration after the first (the first compiles), the overhead of the outputs against none, and the
seconds from the last iteration to the command's end (the results written: history, plots, animation,
report; and, with the background writer, the frames still queued).
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_timing import time_fit  # noqa: E402


def per_iteration(marks: dict) -> float:
    times = marks["iterations"]
    return (times[-1] - times[0]) / (len(times) - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", default="scenes/three_spheres.yaml")
    parser.add_argument("--reference", default="assets/three_spheres_ref.png")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    settings = {"defaults": [], "outputs off": ["--frame-every", "0", "--checkpoint-every", "0"]}
    runs = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for name, extra in settings.items():
                out = os.path.join(folder, f"{repeat}-{name.replace(' ', '-')}")
                runs[name].append(time_fit([args.scene, args.reference, "--arch", "cpu", "--tol", "0", "--iterations",
                                            str(args.iterations), "--out", out, "--quiet", *extra]))
    print(f"raydiff fit {args.scene}, {args.iterations} iterations, cpu (median of {args.repeats} runs each):")
    base = statistics.median(per_iteration(m) for m in runs["outputs off"])
    for name, marks in runs.items():
        ms = statistics.median(per_iteration(m) for m in marks)
        tail = statistics.median(m["end"] - m["iterations"][-1] for m in marks)
        finish = statistics.median(m.get("finish_s", 0.0) for m in marks)
        print(f"  {name:12s} {1000 * ms:7.1f} ms/iteration ({100 * (ms / base - 1):+5.1f}% against outputs off), "
              f"{tail:.2f} s after the last iteration (finish {finish:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
