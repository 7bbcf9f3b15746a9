"""``raydiff gradcheck`` through Typer's runner: the table, --json, --param, a reference file, the exit code.

The scene is a lone lit quad (nothing casts a shadow), so the shading gradient is the whole gradient and
the check passes with the default tolerance; ``--tol`` far below the finite difference's own error makes
it fail. Its bad inputs are cases in tests/bad_inputs.py.
"""

from __future__ import annotations

import json

import pytest
from cli_runner import make_runner

from raydiff_cli.main import app

runner = make_runner()

SCENE = """\
camera: {position: [0, 2, 3], look_at: [0, 0, 0], fov: 50}
film: {width: 24, height: 18, spp: 4}
objects:
  - {name: floor, type: quad, origin: [-2, 0, -2], edge1: [0, 0.3, 4], edge2: [4, 0, 0], albedo: [0.6, 0.5, 0.4]}
lights:
  - {name: key, type: point, position: [0.7, 1.2, 0.4], intensity: [4, 3, 2]}
optimize:
  lights.key.position: {}
  objects.floor.albedo: {}
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gradcheck")
    path = folder / "quad.yaml"
    path.write_text(SCENE)
    return path


def test_table_and_exit_code_zero(scene):
    result = invoke("gradcheck", scene, "--arch", "cpu", "--spp", 16, "--correlated")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("parameter"))
    assert header.split() == ["parameter", "component", "ad", "fd", "rel", "error", "verdict"]
    rows = [line for line in lines if line.startswith(("lights.key.position", "objects.floor.albedo"))]
    assert len(rows) == 2 and all(row.rstrip().endswith("ok") for row in rows)
    components = [line.split("[")[1][0] for line in lines if " [" in line and "rendered" not in line]
    assert components == ["0", "1", "2"] * 2  # a row per component, the path on the first
    assert "reference   rendered with lights.key.position = [" in result.stdout
    assert "gradient from the render's samples" in result.stdout
    assert lines[-1] == "2 of 2 parameters within 2%"


def test_json_param_and_failure_exit_code(scene):
    result = invoke("gradcheck", scene, "--arch", "cpu", "--spp", 16, "--param", "lights.key.intensity",
                    "--tol", "1e-12", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert list(data["params"]) == ["lights.key.intensity"] and data["ok"] is False
    entry = data["params"]["lights.key.intensity"]
    assert len(entry["ad"]) == 3 and len(entry["fd"]) == 3 and entry["rel_error"] > 0
    assert data["decorrelate"] is True and data["spp"] == 16 and data["tol"] == 1e-12


def test_a_reference_file(scene, tmp_path):
    ref = tmp_path / "ref.exr"
    assert invoke("render", scene, "-o", ref, "--arch", "cpu", "--spp", 4).exit_code == 0
    result = invoke("gradcheck", scene, ref, "--arch", "cpu", "--spp", 16, "--param", "objects.floor.albedo",
                    "--tol", "1e-12")
    assert result.exit_code == 1, result.output
    assert f"reference   {ref}" in result.stdout
    assert "FAIL" in result.stdout and "failed: objects.floor.albedo" in result.stdout
