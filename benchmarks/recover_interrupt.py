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

SCENE = """\
camera: {position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}
film: {width: 24, height: 18, spp: 1}
objects:
  - {name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}
  - {name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}
lights:
  - {name: key, type: point, position: [1, 2, 1], intensity: 8}
optimize:
  lights.key.position: {}
  lights.key.intensity: {}
"""


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(entry))
            except OSError:
                continue
    return out


def busy_worker(pid: int) -> bool:
    """A spawned worker that ignores SIGINT (past its imports), not the resource tracker."""
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            if "spawn_main" not in f.read():
                return False
        with open(f"/proc/{pid}/status") as f:
            mask = next(line for line in f if line.startswith("SigIgn:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def one(folder: str, delay: float, ignored: bool, limit: float) -> str:
    out = os.path.join(folder, f"stopped-{delay:g}")
    command = [sys.executable, "-m", "raydiff_cli.main", "recover", os.path.join(folder, "scene.yaml"), "--trials",
               "1000", "--iterations", "200", "--arch", "cpu", "--workers", "2", "--quiet", "--out", out]
    if ignored:
        command = ["sh", "-c", "trap '' INT; exec \"$@\"", "sh", *command]
    begin = time.monotonic()
    process = subprocess.Popen(command, cwd=folder, stderr=subprocess.PIPE, start_new_session=True)
    try:
        workers: set[int] = set()
        while len(workers) < 2 and process.poll() is None:
            time.sleep(0.1)
            workers = {c for c in children(process.pid) if busy_worker(c)}
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
            f.write(SCENE)
        for delay in (float(d) for d in args.delay.split(",")):
            print(one(folder, delay, args.ignored, args.limit), f"(load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
