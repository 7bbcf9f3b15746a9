"""How long `raydiff recover` takes to wind down after Ctrl-C, with its workers busy.

    python benchmarks/recover_interrupt.py [--delay 0,3,10] [--ignored] [--limit 60]

For each delay: starts `python -m raydiff_cli.main recover` on a tiny scene (24x18, 1 spp; 1000 trials of
200 iterations, 2 workers, the CPU), waits until both spawned workers are past their imports (they ignore
SIGINT then: ``SigIgn`` in /proc/PID/status), waits ``delay`` more seconds (the workers compiling, then
fitting), sends SIGINT to the command's process group (a terminal's Ctrl-C) and prints the seconds until
the command exits, its exit code and last stderr line, the workers left alive and whether the output
folder is left behind. A command still running ``--limit`` seconds after the SIGINT is killed and counted
as hung.

``--ignored`` starts the command with SIGINT ignored (``sh -c "trap '' INT; exec ..."``), as a background
job of a script or of a non-interactive shell inherits it (``cmd &``, ``nohup``), and so the test suite
run that way. The command runs from a temporary folder with this process's PYTHONPATH, so that pointing
PYTHONPATH at another checkout (``git archive`` of main, with its ``.pp/raydiff_cli`` link) measures that
checkout's code. Linux only (reads /proc).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from processes import STUDY_SCENE, alive, busy_workers, long_study  # noqa: E402  (the test's own helpers)


def one(folder: str, delay: float, ignored: bool, limit: float) -> str:
    out = os.path.join(folder, f"stopped-{delay:g}")
    command = long_study(os.path.join(folder, "scene.yaml"), out, sigint_ignored=ignored)
    begin = time.monotonic()
    process = subprocess.Popen(command, cwd=folder, stderr=subprocess.PIPE, start_new_session=True)
    try:
        workers: set[int] = set()
        while len(workers) < 2 and process.poll() is None:
            time.sleep(0.1)
            workers = busy_workers(process.pid)
        if process.poll() is not None:
            return f"the command ended before its workers started: {process.stderr.read().decode()[-300:]}"
        started = time.monotonic() - begin
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGINT)
        sent = time.monotonic()
        try:
            code = process.wait(timeout=limit)
            took = f"{time.monotonic() - sent:.1f} s"
        except subprocess.TimeoutExpired:
            code, took = "none", f"HUNG (> {limit:g} s, killed)"
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        last = (process.stderr.read().decode().strip().splitlines() or [""])[-1]
        left = [w for w in workers if alive(w)]
        return (f"delay {delay:g} s (workers busy {started:.1f} s after the start): wind-down {took}, exit {code}, "
                f"last line {last!r}, workers left {len(left)}, folder left {os.path.exists(out)}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", default="0,3,10", help="seconds after the workers are busy, comma-separated")
    parser.add_argument("--ignored", action="store_true", help="start the command with SIGINT ignored")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds after the SIGINT before it counts as hung")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("reads /proc: Linux only")
    print(f"load {os.getloadavg()[0]:.1f}, SIGINT {'ignored' if args.ignored else 'default'} at the start")
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "scene.yaml"), "w") as f:
            f.write(STUDY_SCENE)
        for delay in (float(d) for d in args.delay.split(",")):
            print(one(folder, delay, args.ignored, args.limit), f"(load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
