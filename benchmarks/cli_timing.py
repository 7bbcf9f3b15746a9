"""Timing ``raydiff fit`` as a user runs it: the real command in a fresh process, and when what happened.

    from cli_timing import time_fit
    marks = time_fit(["scenes/three_spheres.yaml", "assets/three_spheres_ref.png", "--arch", "cpu"])

The child process imports the command (``raydiff_cli.main``) and runs it on the arguments given, with
``raydiff.fit`` and ``RunFolder.finish`` wrapped to note the time of every iteration's callback and how
long the results took to write. Times are seconds from the moment just before the child was started.
Used by benchmarks/startup.py and benchmarks/outputs.py.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def time_fit(args: list[str], env: dict | None = None, root: str = ROOT) -> dict:
    """Run ``raydiff fit ARGS`` in a fresh process; return its marks (see :func:`_child`).

    ``env`` adds to the environment (e.g. ``TI_OFFLINE_CACHE_FILE_PATH`` for a fresh kernel cache).
    ``root`` is the checkout whose raydiff runs (its folder first on the path, and the working folder);
    the command's own package comes from the path as the environment sets it.
    """
    with tempfile.TemporaryDirectory() as folder:
        answer = os.path.join(folder, "marks.json")
        environment = {**os.environ, **(env or {}), "RAYDIFF_BENCH_ANSWER": answer,
                       "RAYDIFF_BENCH_T0": repr(time.time()), "RAYDIFF_BENCH_ROOT": root}
        out = subprocess.run([sys.executable, __file__, *args], cwd=root, env=environment, capture_output=True,
                             text=True)
        if out.returncode != 0 or not os.path.exists(answer):
            raise RuntimeError(f"raydiff fit {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
        with open(answer) as f:
            return json.load(f)


def _child(args: list[str]) -> None:
    """In the child: run the command; write the marks (seconds from the start) as JSON.

    ``imported``: the command's modules imported; ``iterations``: each iteration's callback;
    ``imported_cpu`` and ``iterations_cpu``: the CPU time the process had used by then (every thread's,
    Taichi's compilation among them: under load a steadier figure than the wall time);
    ``fit_returned``: ``raydiff.fit`` done; ``finish_s``: ``RunFolder.finish``'s duration; ``end``: the
    command done, every file written.
    """
    t0 = float(os.environ["RAYDIFF_BENCH_T0"])
    import raydiff_cli.main as command

    marks = {"imported": time.time() - t0, "iterations": [], "imported_cpu": time.process_time(),
             "iterations_cpu": []}
    import raydiff
    from raydiff.run.folder import RunFolder

    fit, finish = raydiff.fit, RunFolder.finish

    def timed_fit(*a, callback=None, **k):
        def noted(it):
            marks["iterations"].append(time.time() - t0)
            marks["iterations_cpu"].append(time.process_time())
            callback(it)

        try:
            return fit(*a, callback=noted, **k)
        finally:
            marks["fit_returned"] = time.time() - t0

    def timed_finish(self, *a, **k):
        start = time.time()
        try:
            return finish(self, *a, **k)
        finally:
            marks["finish_s"] = time.time() - start

    raydiff.fit, RunFolder.finish = timed_fit, timed_finish
    try:
        command.app(["fit", *args], standalone_mode=False)
    finally:
        marks["end"] = time.time() - t0
        with open(os.environ["RAYDIFF_BENCH_ANSWER"], "w") as f:
            json.dump(marks, f)


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("RAYDIFF_BENCH_ROOT", ROOT))
    _child(sys.argv[1:])
