"""How much of a test selection's time is Taichi compiling kernels, and whether the offline cache serves them.

    python benchmarks/suite_compiles.py [--before tests/test_a.py ...] -- tests/test_b.py [-k EXPR]

Runs ``python -m pytest -n 0 -p no:cacheprovider -q`` on the selection after ``--`` twice in fresh
processes: *cold*, on a new, empty Taichi offline cache (``TI_OFFLINE_CACHE_FILE_PATH``), as in CI; then
*warm*, on the cache the cold run filled. With ``--before``, the cold run takes those test files first
(as a pytest-xdist worker may run other modules before the selection) and the warm run the selection
alone: the warm run then finds its kernels in the cache only if the selection's kernels do not depend on
what ran before it in the process. For each run it prints the CPU seconds of pytest (user + system: less
disturbed by a loaded machine than the wall time, which it prints too), the load average, the kernels the
cache holds afterwards (one file per compiled kernel) and pytest's summary line. The difference between
the two runs' CPU seconds is, roughly, the compile time that the cache saves.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_pytest(args: list[str], cache: str) -> dict:
    """Runs pytest on ``args`` with the offline cache ``cache``; its CPU and wall seconds and last line."""
    env = dict(os.environ, TI_OFFLINE_CACHE_FILE_PATH=cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-q", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    kernels = sum(1 for name in os.listdir(cache) if name.endswith(".tic")) if os.path.isdir(cache) else 0
    return {"cpu": cpu, "wall": wall, "kernels": kernels, "summary": lines[-1] if lines else done.stderr[-200:],
            "load": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", nargs="*", default=[], help="test files the cold run takes first")
    parser.add_argument("selection", nargs="+", help="pytest arguments (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        for name, selection in (("cold", [*args.before, *args.selection]), ("warm", args.selection)):
            r = run_pytest(selection, cache)
            print(f"{name}: {r['cpu']:7.1f} s CPU, {r['wall']:7.1f} s wall, load {r['load']:.1f}, "
                  f"{r['kernels']} kernels in the cache; {r['summary']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
