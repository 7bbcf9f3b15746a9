"""One fit per output folder, with real processes: a second fit into a folder another fit runs in is
refused, and a fit killed with SIGKILL leaves a folder that ``--resume`` continues.

Every process is started by the module's one setup, concurrently, so that their kernel compilations
(tens of seconds each on the CPU) overlap:

* fit A runs into ``a/``; once it holds the folder, fit B (the same ``--out``) and fit C (``--resume a``)
  start, and must each end in one error line naming A's pid; once A has saved its first frame it gets
  SIGINT, stops, and its folder must be whole (history, checkpoint, report ...), with no lock file left;
* fit K runs into ``k/`` and is killed with SIGKILL as soon as it has saved its checkpoint (before its
  first iteration is done, while its kernels compile); ``--resume k --iterations N`` then continues it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from raydiff.io.checkpoint import load_checkpoint
from raydiff.io.claim import LOCK, holder
from raydiff.io.images import write_image

SCENE = """\
camera: {position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}
film: {width: 16, height: 12, spp: 1}
objects:
  - {name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}
  - {name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}
lights:
  - {name: key, type: point, position: [1, 2, 1], intensity: 8}
optimize:
  lights.key.position: {lr: 0.05}
"""
ENDLESS = ["--iterations", "1000000", "--tol", "0", "--arch", "cpu", "--checkpoint-every", "5", "--quiet"]
TIMEOUT = 240


def raydiff_cli(*args) -> list[str]:
    return [sys.executable, "-m", "raydiff_cli.main", *map(str, args)]


def start(*args, **more_env: str) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **more_env}
    return subprocess.Popen(raydiff_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(condition, *children: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        for child in children:
            assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def finish(child: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = child.communicate(timeout=TIMEOUT)
    return child.returncode, stdout, stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("claim")
    (d / "scene.yaml").write_text(SCENE)
    write_image(d / "ref.png", np.full((12, 16, 3), 0.2, dtype=np.float32))
    inputs = [d / "scene.yaml", d / "ref.png"]
    a_dir, k_dir = d / "a", d / "k"
    a = start("fit", *inputs, "--out", a_dir, "--frame-every", "10", "--animation-every", "1000", *ENDLESS)
    # without Taichi's kernel cache K's first iteration surely takes seconds: it is killed before its end
    k = start("fit", *inputs, "--out", k_dir, "--frame-every", "0", *ENDLESS, TI_OFFLINE_CACHE="0")
    children = {"a": a, "k": k}
    try:
        wait_for(lambda: holder(a_dir) == a.pid, a)
        b = start("fit", *inputs, "--out", a_dir, "--arch", "cpu", "--iterations", "2")
        c = start("fit", *inputs, "--resume", a_dir, "--arch", "cpu", "--iterations", "2")
        children.update(b=b, c=c)

        wait_for(lambda: (k_dir / "checkpoint.npz").is_file(), k)
        k.send_signal(signal.SIGKILL)
        outcomes = {"k": finish(k)}
        arrays, _ = load_checkpoint(k_dir / "checkpoint.npz")
        k_done = int(arrays["iteration"])
        d_total = k_done + 2
        resumed = start("fit", *inputs, "--resume", k_dir, "--arch", "cpu", "--iterations", d_total, "--json")
        children["d"] = resumed

        outcomes["b"], outcomes["c"] = finish(b), finish(c)
        wait_for(lambda: (a_dir / "frames" / "00000.png").is_file(), a)
        a.send_signal(signal.SIGINT)
        outcomes["a"], outcomes["d"] = finish(a), finish(resumed)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.communicate()
    return {"dir": d, "a_pid": a.pid, "k_done": k_done, "d_total": d_total, **outcomes}


def one_error_line(outcome) -> str:
    code, stdout, stderr = outcome
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 1 and stdout == "" and len(lines) == 1, outcome
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def test_a_second_fit_into_the_folder_is_refused_naming_the_first(runs):
    line = one_error_line(runs["b"])
    assert f"{runs['dir'] / 'a'}: another fit (pid {runs['a_pid']}) is running in this folder" in line
    assert "choose another --out" in line


def test_resuming_a_folder_while_its_fit_runs_is_refused(runs):
    line = one_error_line(runs["c"])
    assert f"another fit (pid {runs['a_pid']}) is running in this folder" in line


def test_the_first_fit_keeps_its_results_whole(runs):
    code, _, stderr = runs["a"]
    assert code == 130, runs["a"]
    a_dir = runs["dir"] / "a"
    settings = json.loads((a_dir / "settings.json").read_text())
    ran = settings["iterations_run"]
    assert settings["stopped_early"] and ran >= 1, settings
    assert len((a_dir / "history.csv").read_text().splitlines()) == 1 + ran, settings
    arrays, _ = load_checkpoint(a_dir / "checkpoint.npz")
    assert int(arrays["iteration"]) == ran, (int(arrays["iteration"]), settings)
    for name in ("params.json", "fitted.yaml", "animation.gif", "report.html", "frames/00000.png"):
        assert (a_dir / name).is_file(), name
    assert not (a_dir / LOCK).exists()  # given back at the end


def test_a_fit_killed_before_its_first_iteration_is_resumed(runs):
    code, _, _ = runs["k"]
    assert code == -signal.SIGKILL and runs["k_done"] == 0  # the checkpoint written before the first iteration
    code, stdout, stderr = runs["d"]
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["iterations"] == runs["d_total"] and not summary["stopped_early"]
    k_dir = runs["dir"] / "k"
    settings = json.loads((k_dir / "settings.json").read_text())
    assert settings["settings"]["iterations"] == runs["d_total"]  # --iterations with --resume: the new total
    assert len((k_dir / "history.csv").read_text().splitlines()) == 1 + runs["d_total"]
    assert not (k_dir / LOCK).exists()
