"""Small probes behind docs/performance.md, section 15: what parts of a start cost, measured alone.

    python benchmarks/startup_probes.py [--repeats 3]

Each probe runs in a fresh process (Taichi on the CPU, the offline cache as the environment sets it):

* ``version check``: the CPU time of Taichi's version check run alone (the thread ``ti.init`` starts
  unless ``TI_SKIP_VERSION_CHECK=ON``; a network request, unreachable on the project's machine);
* ``ti.init and the GIL``: how many loops of a small sum the main thread runs while another thread runs
  ``ti.init``, against how many it runs in the same time alone (about equal: ``ti.init`` lets Python run);
* ``accessors``: the first ``field[None] = x`` and ``field[None]`` of a fresh field, and a second
  field's (each compiles a small kernel of Taichi's own), and ``field.fill``;
* ``ndarray arguments``: a launch of a small kernel with and without three ndarray arguments;
* ``imports``: the CPU time of importing the ``fit`` command alone against the whole CLI.
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROBES = {
    "version check": """
import time, taichi
from taichi import _version_check
c = time.process_time(); _version_check.try_check_version()
print(f"{1e3 * (time.process_time() - c):.0f} ms CPU")
""",
    "ti.init and the GIL": """
import threading, time, taichi as ti
took = []
def init():
    t = time.perf_counter(); ti.init(arch=ti.cpu, log_level=ti.ERROR); took.append(time.perf_counter() - t)
thread = threading.Thread(target=init); thread.start(); beside = 0
while thread.is_alive():
    beside += 1; sum(range(1000))
t, alone = time.perf_counter(), 0
while time.perf_counter() - t < took[0]:
    alone += 1; sum(range(1000))
print(f"ti.init {took[0]:.2f} s; loops beside it {beside}, alone in the same time {alone}")
""",
    "accessors": """
import time, taichi as ti
ti.init(arch=ti.cpu, log_level=ti.ERROR)
a, b = ti.field(ti.f32, shape=()), ti.field(ti.f32, shape=())
t0 = time.perf_counter(); a[None] = 0.0
t1 = time.perf_counter(); a[None]
t2 = time.perf_counter(); b[None] = 1.0
t3 = time.perf_counter(); a.fill(0.0)
t4 = time.perf_counter()
print(f"first write {1e3 * (t1 - t0):.0f} ms, first read {1e3 * (t2 - t1):.0f} ms, "
      f"another field's write {1e3 * (t3 - t2):.0f} ms, fill {1e3 * (t4 - t3):.0f} ms")
""",
    "ndarray arguments": """
import time, numpy as np, taichi as ti
ti.init(arch=ti.cpu, log_level=ti.ERROR)
k = 6
f = ti.field(ti.f32, shape=k)
@ti.kernel
def plain(op: ti.i32, h: ti.f32):
    for i in range(k):
        if op == 1:
            f[i] = h
@ti.kernel
def with_arrays(op: ti.i32, h: ti.f32, a: ti.types.ndarray(dtype=ti.f32, ndim=2),
                b: ti.types.ndarray(dtype=ti.i32, ndim=1), c: ti.types.ndarray(dtype=ti.f64, ndim=2)):
    for i in range(k):
        if op == 1:
            f[i] = a[0, i] + b[i] + c[i, 0]
A, B, C = np.zeros((2, k), np.float32), np.zeros(k, np.int32), np.zeros((k, k + 2))
plain(0, 0.0); with_arrays(0, 0.0, A, B, C)
for name, run in (("no ndarray", lambda: plain(0, 0.0)), ("three ndarrays", lambda: with_arrays(0, 0.0, A, B, C))):
    t = time.perf_counter()
    for _ in range(2000):
        run()
    print(f"{name}: {1e6 * (time.perf_counter() - t) / 2000:.0f} us a launch", end="; ")
print()
""",
    "imports": """
import subprocess, sys
for module in ("raydiff_cli.fit", "raydiff_cli.main"):
    code = f"import time; c = time.process_time(); import {module}; print(time.process_time() - c)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    print(f"{module} {float(out.stdout.split()[-1]):.2f} s CPU", end="; ")
print()
""",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "ENABLE_TAICHI_HEADER_PRINT": "false"}
    with tempfile.TemporaryDirectory() as folder:
        for name, code in PROBES.items():
            script = os.path.join(folder, "probe.py")  # a file: Taichi reads a kernel's source from it
            with open(script, "w") as f:
                f.write(code)
            for _ in range(args.repeats):
                out = subprocess.run([sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True)
                lines = out.stdout.strip().splitlines()  # the last line: ti.init prints "[Taichi] Starting ..."
                text = lines[-1] if out.returncode == 0 and lines else f"failed: {out.stderr.strip().splitlines()[-1:]}"
                print(f"{name}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
