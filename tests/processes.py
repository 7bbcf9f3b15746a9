"""What tests/test_cli_recover.py and benchmarks/recover_interrupt.py need to interrupt a study: its tiny
scene, the command that runs it on two workers for minutes, and the processes it leaves, read from /proc
(Linux only)."""

import os
import signal
import sys

#: A study's scene small enough that its trials take a fraction of a second once compiled (24x18, 1 spp).
STUDY_SCENE = """\
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


def long_study(scene: str, out: str, sigint_ignored: bool) -> list[str]:
    """The command line of a study of ``scene`` into ``out`` that runs for minutes on two workers (1000
    trials of 200 iterations), started with SIGINT ignored when ``sigint_ignored`` (``sh -c "trap '' INT;
    exec ..."``: as a background job of a script or a non-interactive shell inherits it)."""
    command = [sys.executable, "-m", "raydiff_cli.main", "recover", scene, "--trials", "1000", "--iterations",
               "200", "--arch", "cpu", "--workers", "2", "--quiet", "--out", out]
    return ["sh", "-c", "trap '' INT; exec \"$@\"", "sh", *command] if sigint_ignored else command


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(entry))
    return out


def ignores_sigint(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT (a study's worker does once it is past its imports: from then
    on Ctrl-C reaches it and only its parent can stop it)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(line for line in f if line.startswith("SigIgn:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


def is_worker(pid: int) -> bool:
    """Whether ``pid`` is a spawned worker (not multiprocessing's resource tracker, which ignores SIGINT too)."""
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return "spawn_main" in f.read()
    except OSError:
        return False


def busy_workers(pid: int) -> set[int]:
    """``pid``'s spawned workers that are past their imports."""
    return {c for c in children(pid) if ignores_sigint(c) and is_worker(c)}


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
