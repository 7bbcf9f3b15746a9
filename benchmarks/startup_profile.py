"""Where the start of ``raydiff fit`` goes: a table of its phases, warm and cold, and the imports.

    python benchmarks/startup_profile.py [--scene scenes/three_spheres.yaml --reference assets/three_spheres_ref.png]
                                         [--kernels] [--imports] [--funcs]

Runs ``raydiff fit SCENE REF --arch cpu --iterations 1 --quiet`` (the real command in a fresh process, as
benchmarks/startup.py does) twice: with a new, empty Taichi offline cache (*cold*), then again with the
cache that run filled (*warm*). In the child, the steps of the start are wrapped with timers (no
profiler) and every Taichi kernel's two costs before its first result are noted by phase:

* **front end**: ``Kernel.materialize``, Taichi's Python AST transform into its C++ IR, which 1.7.4 runs
  at every start, cached or not (the offline cache's key is computed from that IR);
* **first launch**: the first launch of each compiled kernel: the offline cache's lookup and load
  (warm) or the LLVM code generation (cold), and the kernel's first run.

The table's rows are the phases, in order, each with its wall time less that of the phases inside it
(``other`` is the rest of the command: Typer, the checks, the output folder), up to the end of the
first iteration. ``--funcs`` lists, for each of the three kernels with the largest front end, how often
each ``ti.func`` was inlined into it (a call site: each costs the front end a parse and a transform;
Taichi's own, such as ``matrix_ops.dot``, included). ``--kernels`` also lists
each kernel's front end and first launch; ``--cpu`` times the phases and kernels in the process's CPU
seconds (all threads) instead of wall seconds, steadier on a loaded machine; ``--imports`` adds the import time by top-level package
(``python -X importtime -c "import raydiff_cli.main"``: each module's own time summed by package,
raydiff's by sub-package).
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: The wrapped steps: (phase name, module, attribute path). Phases nest; each is timed less its children.
PHASES = (
    ("ti.init", "raydiff", "init"),
    ("scene load", "raydiff", "load_scene"),
    ("references", "raydiff", "read_reference"),
    ("Fitter (rest)", "raydiff.optim.fit", "Fitter.__init__"),
    ("device scene", "raydiff.device.scene", "DeviceScene.__init__"),
    ("integrator", "raydiff.kernels.integrator", "Integrator.__init__"),
    ("loss", "raydiff.optim.loss", "ImageLoss.__init__"),
    ("optimiser", "raydiff.optim.levenberg", "LevenbergMarquardt.__init__"),
    ("optimiser", "raydiff.optim.adam", "Adam.__init__"),
    ("gradient", "raydiff.optim.gradient", "LossGradient.__init__"),
    ("boundary", "raydiff.kernels.boundary", "make_boundary"),
    ("first checkpoint", "raydiff.optim.fit", "Fitter.checkpoint"),
    ("first iteration", "raydiff.optim.fit", "Fitter.step"),
)


def _child(args: list[str]) -> None:
    """In the child: wrap the phases and Taichi's kernels, run the command, write what was seen as JSON."""
    t0 = float(os.environ["RAYDIFF_BENCH_T0"])
    clock = time.process_time if os.environ.get("RAYDIFF_BENCH_CLOCK") == "cpu" else time.perf_counter
    import importlib

    import raydiff_cli.main as command

    imported = time.time() - t0
    from taichi.lang import kernel_impl

    stack = [["other", clock(), 0.0]]  # [phase, started, time in children]
    own = collections.defaultdict(float)  # phase -> wall less children
    front = collections.defaultdict(float)  # phase -> front-end seconds
    launch = collections.defaultdict(float)  # phase -> first-launch seconds
    kernels = collections.defaultdict(lambda: [0.0, 0.0, 0])  # kernel -> [front end, first launch, instances]
    inlined = collections.defaultdict(collections.Counter)  # kernel -> ti.func -> call sites transformed
    materializing = []  # the kernel whose front end runs now
    launched = set()
    first_iteration_done = {}

    def timed(phase, fn, once=False):
        def wrapper(*a, **k):
            if once and phase in own:
                return fn(*a, **k)
            stack.append([phase, clock(), 0.0])
            try:
                return fn(*a, **k)
            finally:
                name, start, inner = stack.pop()
                spent = clock() - start
                own[name] += spent - inner
                stack[-1][2] += spent
                if phase == "first iteration" and not first_iteration_done:
                    first_iteration_done["t"] = time.time() - t0
                    # what happens after the first iteration is not the start's: the figures end here
                    own["other"] += clock() - stack[0][1] - stack[0][2]
                    first_iteration_done["seen"] = json.loads(json.dumps(
                        {"own": own, "front": front, "launch": launch, "kernels": kernels, "inlined": inlined}))

        return wrapper

    for phase, module_name, attribute in PHASES:
        owner = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, timed(phase, getattr(owner, name), once=phase.startswith("first")))

    materialize, launch_kernel = kernel_impl.Kernel.materialize, kernel_impl.Kernel.launch_kernel

    def timed_materialize(self, key=None, args=None, arg_features=None):
        fresh = (key if key is not None else (self.func, 0, self.autodiff_mode)) not in self.compiled_kernels
        start = clock()
        materializing.append(_kernel_name(self))
        try:
            return materialize(self, key, args, arg_features)
        finally:
            materializing.pop()
            if fresh:
                spent = clock() - start
                front[stack[-1][0]] += spent
                entry = kernels[_kernel_name(self)]
                entry[0] += spent
                entry[2] += 1

    def timed_launch(self, t_kernel, *a):
        if id(t_kernel) in launched:
            return launch_kernel(self, t_kernel, *a)
        launched.add(id(t_kernel))
        start = clock()
        try:
            return launch_kernel(self, t_kernel, *a)
        finally:
            spent = clock() - start
            launch[stack[-1][0]] += spent
            kernels[_kernel_name(self)][1] += spent

    func_call = kernel_impl.Func.__call__

    def counted_call(self, *a, **k):
        if materializing:
            inlined[materializing[-1]][f"{self.func.__module__.rsplit('.', 1)[-1]}.{self.func.__name__}"] += 1
        return func_call(self, *a, **k)

    kernel_impl.Kernel.materialize, kernel_impl.Kernel.launch_kernel = timed_materialize, timed_launch
    kernel_impl.Func.__call__ = counted_call
    stack[0][1] = clock()
    try:
        command.app(["fit", *args], standalone_mode=False)
    finally:
        with open(os.environ["RAYDIFF_BENCH_ANSWER"], "w") as f:
            json.dump({"imported": imported, "first_iteration_done": first_iteration_done.get("t"),
                       **first_iteration_done.get("seen", {})}, f)


def _kernel_name(kernel) -> str:
    func = kernel.func
    module = getattr(func, "__module__", "") or ""
    name = f"{module.rsplit('.', 1)[-1]}.{func.__name__}"
    return name + (".grad" if str(kernel.autodiff_mode) != "AutodiffMode.NONE" else "")


def run(args: list[str], cache: str, cpu: bool = False) -> dict:
    """One profiled ``raydiff fit ARGS`` in a fresh process with the offline cache ``cache`` (phases timed
    in CPU seconds of the whole process, every thread's, with ``cpu``; else wall seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        answer = os.path.join(folder, "profile.json")
        env = {**os.environ, "TI_OFFLINE_CACHE_FILE_PATH": cache, "RAYDIFF_BENCH_ANSWER": answer,
               "RAYDIFF_BENCH_T0": repr(time.time()), "RAYDIFF_BENCH_CLOCK": "cpu" if cpu else "wall"}
        out = subprocess.run([sys.executable, __file__, "--child", *args, "--out", os.path.join(folder, "out")],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode != 0 or not os.path.exists(answer):
            raise RuntimeError(f"raydiff fit {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
        with open(answer) as f:
            return json.load(f)


def imports() -> list[tuple[str, float]]:
    """Seconds of ``import raydiff_cli.main`` by top-level package (raydiff's by sub-package), each module's
    own time summed, largest first."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import raydiff_cli.main"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "ENABLE_TAICHI_HEADER_PRINT": "false"})
    totals = collections.defaultdict(float)
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own_us, _, name = [part.strip() for part in line[len("import time:"):].split("|")]
        parts = name.split(".")
        totals[".".join(parts[:2]) if parts[0] == "raydiff" else parts[0]] += int(own_us) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])


def _table(results: dict, clock: str = "wall") -> list[str]:
    phases = ["import"] + list(dict.fromkeys([p for p, _, _ in PHASES[:3]] + ["other"] +
                                            [p for p, _, _ in PHASES[3:]]))
    lines = ["| phase | " + " | ".join(f"{name}: {clock} / front end / first launch" for name in results) + " |",
             "|---|" + "---|" * len(results)]
    for phase in phases:
        cells = []
        for r in results.values():
            if phase == "import":
                cells.append(f"{r['imported']:.2f} s")
                continue
            wall = r["own"].get(phase, 0.0)
            cells.append(f"{wall:.2f} / {r['front'].get(phase, 0.0):.2f} / {r['launch'].get(phase, 0.0):.2f} s")
        if any(not c.startswith("0.00 / 0.00 / 0.00") for c in cells):
            lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    totals = [f"{sum(r['front'].values()):.2f} s front end ({len(r['kernels'])} kernels), "
              f"{sum(r['launch'].values()):.2f} s first launches" for r in results.values()]
    lines.append("| of which Taichi | " + " | ".join(totals) + " |")
    lines.append("| first iteration done | " + " | ".join(f"{r['first_iteration_done']:.2f} s" for r in results.values()) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", default="scenes/three_spheres.yaml")
    parser.add_argument("--reference", default="assets/three_spheres_ref.png")
    parser.add_argument("--kernels", action="store_true", help="list every kernel's front end and first launch")
    parser.add_argument("--imports", action="store_true", help="the import time by top-level package")
    parser.add_argument("--funcs", action="store_true", help="the ti.func call sites of the largest front ends")
    parser.add_argument("--cpu", action="store_true",
                        help="time the phases and kernels in CPU seconds (the process's, all threads) instead of wall "
                             "seconds: steadier under load (import and 'first iteration done' stay wall)")
    args = parser.parse_args()
    command = [args.scene, args.reference, "--arch", "cpu", "--iterations", "1", "--quiet"]
    with tempfile.TemporaryDirectory() as folder:
        cache = os.path.join(folder, "cache")
        results = {"cold": run(command, cache, args.cpu), "warm": run(command, cache, args.cpu)}
    clock = "CPU" if args.cpu else "wall"
    print(f"raydiff fit {args.scene}, cpu, one iteration: seconds of each phase ({clock} less the phases inside it)")
    print("\n".join(_table(results, clock)))
    if args.kernels:
        print("\n| kernel | instances | cold: front end / first launch | warm: front end / first launch |\n|---|---|---|---|")
        names = sorted(results["cold"]["kernels"], key=lambda k: -results["cold"]["kernels"][k][1])
        for name in names:
            cold, warm = results["cold"]["kernels"][name], results["warm"]["kernels"].get(name, [0.0, 0.0, 0])
            print(f"| {name} | {cold[2]} | {cold[0]:.3f} / {cold[1]:.3f} s | {warm[0]:.3f} / {warm[1]:.3f} s |")
    if args.funcs:
        warm = results["warm"]
        for name in sorted(warm["kernels"], key=lambda k: -warm["kernels"][k][0])[:3]:
            counts = warm.get("inlined", {}).get(name, {})
            top = sorted(counts.items(), key=lambda item: -item[1])[:12]
            print(f"\n{name}: {sum(counts.values())} ti.func call sites; most often: "
                  + ", ".join(f"{func} {count}" for func, count in top))
    if args.imports:
        print("\n| package | import s (own time of its modules) |\n|---|---|")
        for name, seconds in imports():
            if seconds >= 0.01:
                print(f"| {name} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, ROOT)
        _child(sys.argv[2:])
    else:
        sys.exit(main())
