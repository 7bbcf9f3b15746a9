"""How soon ``raydiff fit`` reaches its first iteration, with a warm kernel cache and with a cold one.

    python benchmarks/startup.py [--scene scenes/three_spheres.yaml --reference assets/three_spheres_ref.png]
                                 [--repeats 3] [--compiled] [--against DIR]

Runs ``raydiff fit SCENE REF --arch cpu --iterations 2 --quiet`` (benchmarks/cli_timing.py: the real
command in a fresh process) and prints, from the moment the process is started: when the command's modules
are imported, and when the first iteration's callback comes (the first iteration done, its kernels
compiled or loaded), and the CPU time the process had used by then (all its threads: under load a
steadier figure than the wall time). *Cold* runs each get a new, empty Taichi offline cache (``TI_OFFLINE_CACHE_FILE_PATH``),
as on a first run or after an upgrade; *warm* runs share one that a first run filled. Medians of
``--repeats`` runs each.

Python compiles raydiff's modules from source at every start when it may not keep their bytecode
(``PYTHONDONTWRITEBYTECODE``, set on the project's machine; a few tenths of a second). ``--compiled``
lets the runs keep it (in a temporary ``PYTHONPYCACHEPREFIX``, which the first run fills), as an
installed package or a checkout run before has it.

``--against DIR`` times another checkout too (e.g. a ``git archive`` of main, with the ``.pp/raydiff_cli``
link of the project's worktrees: ``DIR/.pp`` and ``DIR`` go first on its runs' ``PYTHONPATH``), run for
run alternately with this one (cold, cold, warm, warm, ...), each with a warm cache of its own: under a
load that drifts, the two see the same minutes.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_timing import ROOT, time_fit  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", default="scenes/three_spheres.yaml")
    parser.add_argument("--reference", default="assets/three_spheres_ref.png")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compiled", action="store_true", help="keep the modules' bytecode between runs")
    parser.add_argument("--against", metavar="DIR", help="another checkout, timed alternately with this one")
    args = parser.parse_args()
    roots = {"this": ROOT}
    if args.against:
        roots["against"] = os.path.abspath(args.against)
        if not os.path.isdir(os.path.join(roots["against"], ".pp", "raydiff_cli")):
            parser.error(f"{args.against} has no .pp/raydiff_cli (ln -s ../cli {args.against}/.pp/raydiff_cli): "
                         "its runs would import another checkout's command")
    runs = {(which, kind): [] for which in roots for kind in ("cold", "warm")}
    with tempfile.TemporaryDirectory() as folder:
        bytecode = {"PYTHONPYCACHEPREFIX": os.path.join(folder, "bytecode"), "PYTHONDONTWRITEBYTECODE": ""}

        def run(which: str, name: str, cache: str, index: int) -> dict:
            root = roots[which]
            out = os.path.join(folder, f"out-{which}-{name}-{index}")
            env = {"TI_OFFLINE_CACHE_FILE_PATH": cache, **(bytecode if args.compiled else {})}
            if which == "against":
                env["PYTHONPATH"] = os.pathsep.join([os.path.join(root, ".pp"), root])
                if args.compiled:
                    env["PYTHONPYCACHEPREFIX"] += "-against"
            return time_fit([args.scene, args.reference, "--arch", "cpu", "--iterations", "2", "--quiet", "--out", out],
                            env=env, root=root)

        warm_cache = {which: os.path.join(folder, f"warm-cache-{which}") for which in roots}
        for which in roots:
            run(which, "fill", warm_cache[which], 0)  # fills the warm cache
        for i in range(args.repeats):
            for kind in ("cold", "warm"):
                for which in roots:
                    cache = warm_cache[which] if kind == "warm" else os.path.join(folder, f"cold-cache-{which}-{i}")
                    runs[(which, kind)].append(run(which, kind, cache, i))
    kept = "bytecode kept" if args.compiled else "bytecode " + ("not kept" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "kept")
    print(f"raydiff fit {args.scene}, cpu, {kept}: seconds from the process's start (median of {args.repeats}):")
    for (which, name), marks in runs.items():
        imported = statistics.median(m["imported"] for m in marks)
        first = statistics.median(m["iterations"][0] for m in marks)
        cpu = statistics.median(m["iterations_cpu"][0] for m in marks)
        label = f"{which} ({roots[which]}) " if args.against else ""
        print(f"  {label}{name}  modules imported {imported:5.2f} s, first iteration done {first:5.2f} s "
              f"(CPU time by then {cpu:5.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
