"""How soon ``raydiff fit`` reaches its first iteration, with a warm kernel cache and with a cold one.

    python benchmarks/startup.py [--scene scenes/three_spheres.yaml --reference assets/three_spheres_ref.png]
                                 [--repeats 3] [--compiled]

Runs ``raydiff fit SCENE REF --arch cpu --iterations 2 --quiet`` (benchmarks/cli_timing.py: the real
command in a fresh process) and prints, from the moment the process is started: when the command's modules
are imported, and when the first iteration's callback comes (the first iteration done, its kernels
compiled or loaded). *Cold* runs each get a new, empty Taichi offline cache (``TI_OFFLINE_CACHE_FILE_PATH``),
as on a first run or after an upgrade; *warm* runs share one that a first run filled. Medians of
``--repeats`` runs each.

Python compiles raydiff's modules from source at every start when it may not keep their bytecode
(``PYTHONDONTWRITEBYTECODE``, set on the project's machine; a few tenths of a second). ``--compiled``
lets the runs keep it (in a temporary ``PYTHONPYCACHEPREFIX``, which the first run fills), as an
installed package or a checkout run before has it.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_timing import time_fit  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", default="scenes/three_spheres.yaml")
    parser.add_argument("--reference", default="assets/three_spheres_ref.png")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compiled", action="store_true", help="keep the modules' bytecode between runs")
    args = parser.parse_args()
    runs = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as folder:
        warm_cache = os.path.join(folder, "warm-cache")
        bytecode = {"PYTHONPYCACHEPREFIX": os.path.join(folder, "bytecode"), "PYTHONDONTWRITEBYTECODE": ""}

        def run(name: str, cache: str, index: int) -> dict:
            out = os.path.join(folder, f"out-{name}-{index}")
            return time_fit([args.scene, args.reference, "--arch", "cpu", "--iterations", "2", "--quiet", "--out", out],
                            env={"TI_OFFLINE_CACHE_FILE_PATH": cache, **(bytecode if args.compiled else {})})

        run("fill", warm_cache, 0)  # fills the warm cache
        for i in range(args.repeats):
            runs["cold"].append(run("cold", os.path.join(folder, f"cold-cache-{i}"), i))
            runs["warm"].append(run("warm", warm_cache, i))
    kept = "bytecode kept" if args.compiled else "bytecode " + ("not kept" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "kept")
    print(f"raydiff fit {args.scene}, cpu, {kept}: seconds from the process's start (median of {args.repeats}):")
    for name, marks in runs.items():
        imported = statistics.median(m["imported"] for m in marks)
        first = statistics.median(m["iterations"][0] for m in marks)
        print(f"  {name}  modules imported {imported:5.2f} s, first iteration done {first:5.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
