"""Stopping a real `raydiff fit` with a signal, and resuming it.

The fit runs in a child process; once it has saved a few frames it gets SIGINT (or SIGTERM). It must stop
after the current iteration, write everything (history, parameters, fitted scene, checkpoint, animation,
report) and exit with 130 (143). `raydiff fit --resume` then continues (deterministic, as the fit it
continues was started), and ends exactly where the same fit run straight through ends: the same history
and the same parameters, bit for bit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest


SCENE = """\
camera: {position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}
film: {width: 40, height: 30, spp: 1}
objects:
  - {name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}
  - {name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}
lights:
  - {name: key, type: point, position: %s, intensity: 10}
optimize:
  lights.key.position: {}
"""
ITERATIONS = 80
COMMON = ["--iterations", str(ITERATIONS), "--tol", "0", "--seed", "7", "--arch", "cpu", "--frame-every", "5", "--checkpoint-every", "10",
          "--deterministic"]


def raydiff_cli(*args) -> list[str]:
    return [sys.executable, "-c", "from raydiff_cli.main import app; app()", *map(str, args)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    (d / "true.yaml").write_text(SCENE % "[1.0, 2.0, 1.0]")
    (d / "start.yaml").write_text(SCENE % "[-0.3, 1.6, 0.4]")
    subprocess.run(raydiff_cli("render", d / "true.yaml", "-o", d / "ref.png", "--spp", 16, "--arch", "cpu"), check=True)
    straight = subprocess.run(
        raydiff_cli("fit", d / "start.yaml", d / "ref.png", "--out", d / "straight", "--json", *COMMON),
        capture_output=True, text=True, check=True,
    )
    return d, json.loads(straight.stdout)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_fit_which_resume_finishes(inputs, sig, code):
    d, straight = inputs
    out = d / f"stopped-{sig.name}"
    child = subprocess.Popen(raydiff_cli("fit", d / "start.yaml", d / "ref.png", "--out", out, *COMMON),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "frames" / "00010.png").exists():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(sig)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"continue with --resume {out}" in stderr

    settings = json.loads((out / "settings.json").read_text())
    stopped_at = settings["iterations_run"]
    assert settings["stopped_early"] and 10 <= stopped_at < ITERATIONS
    for name in ("history.csv", "params.json", "fitted.yaml", "checkpoint.npz", "animation.gif", "report.html"):
        assert (out / name).is_file(), name
    assert len((out / "history.csv").read_text().splitlines()) == 1 + stopped_at

    resumed = subprocess.run(raydiff_cli("fit", d / "start.yaml", d / "ref.png", "--resume", out, "--arch", "cpu", "--json"),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["iterations"] == ITERATIONS and not summary["stopped_early"]
    assert summary["parameters"] == straight["parameters"]
    assert (out / "history.csv").read_text() == (d / "straight" / "history.csv").read_text()
    assert (out / "params.json").read_text() == (d / "straight" / "params.json").read_text()


def test_resume_refuses_a_changed_scene(inputs, tmp_path):
    d, _ = inputs
    changed = tmp_path / "start.yaml"
    changed.write_text((d / "start.yaml").read_text() + "# edited\n")
    result = subprocess.run(raydiff_cli("fit", changed, d / "ref.png", "--resume", d / "straight", "--arch", "cpu"),
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "not the one the fit" in result.stderr


def test_resume_needs_a_checkpoint(inputs, tmp_path):
    d, _ = inputs
    result = subprocess.run(raydiff_cli("fit", d / "start.yaml", d / "ref.png", "--resume", tmp_path, "--arch", "cpu"),
                            capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "checkpoint" in result.stderr
    assert os.listdir(tmp_path) == []
