"""``raydiff fit --tol``: the fit stops by itself, the summary and settings.json say so, ``--tol 0`` runs
every iteration, and a converged fit is not resumed without a smaller tolerance."""

from __future__ import annotations

import json

import pytest

from cli_runner import make_runner
from raydiff_cli.main import app

runner = make_runner()

SCENE = """\
camera: {{position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}}
film: {{width: 32, height: 24, spp: 2}}
objects:
  - {{name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}}
  - {{name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}}
lights:
  - {{name: key, type: point, position: [1, 2, 1], intensity: {intensity}}}
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("converge")
    (d / "true.yaml").write_text(SCENE.format(intensity=8))
    (d / "start.yaml").write_text(SCENE.format(intensity=6) + "optimize:\n  lights.key.intensity: {}\n")
    result = invoke("render", d / "true.yaml", "-o", d / "ref.png", "--spp", 16, "--arch", "cpu")
    assert result.exit_code == 0, result.output
    return d


COMMON = ["--arch", "cpu", "--frame-every", "0", "--lr-decay", "0.95", "--seed", "2"]


def test_fit_stops_by_itself_and_says_so(files):
    out = files / "converged"
    result = invoke("fit", files / "start.yaml", files / "ref.png", "--iterations", 300, "--tol", "0.005",
                    "--out", out, *COMMON)
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "settings.json").read_text())
    n = settings["iterations_run"]
    assert settings["ended"] == "converged" and not settings["stopped_early"] and n < 300 and n % 10 == 0
    assert settings["settings"]["tol"] == 0.005 and settings["settings"]["window"] == 10
    assert "every 10 iterations" in settings["stop_criterion"] and "0.005 of its scale" in settings["stop_criterion"]
    assert f"iterations  {n} in " in result.stdout and "converged (of at most 300)" in result.stdout
    assert "Converged after" in (out / "report.html").read_text()

    again = invoke("fit", files / "start.yaml", files / "ref.png", "--resume", out, "--arch", "cpu")
    assert again.exit_code == 1 and "the fit there has converged" in again.stderr and "--tol" in again.stderr


def test_tol_zero_runs_every_iteration(files):
    out = files / "capped"
    result = invoke("fit", files / "start.yaml", files / "ref.png", "--iterations", 25, "--tol", "0", "--out", out,
                    "--json", *COMMON)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["iterations"] == 25 and summary["ended"] == "iterations"
    settings = json.loads((out / "settings.json").read_text())
    assert settings["ended"] == "iterations" and settings["stop_criterion"].startswith("none (tol 0)")
    assert summary["stopped_early"] is False
