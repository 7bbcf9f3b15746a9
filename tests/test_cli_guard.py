"""The divergence guard through the CLI: a step that makes the loss infinite is rolled back, the learning
rates are halved, the user is told, and the result holds the best parameters, not the diverged ones.
The user is told once as it happens, and of any further rollbacks in one line at the end: a loss that stays
infinite for many iterations must not flood the terminal with one line per iteration.

Adam's guard (Levenberg-Marquardt has no learning rate to make absurd). An absurd learning rate on a light's intensity against a high-dynamic-range (EXR) reference, which the
loss does not clamp, overflows the loss to infinity on the first step.
"""

from __future__ import annotations

import json

from cli_runner import make_runner

from raydiff_cli.main import app

SCENE = """\
camera: {position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}
film: {width: 24, height: 18, spp: 1}
objects:
  - {name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}
lights:
  - {name: key, type: point, position: [1, 2, 1], intensity: 10}
optimize:
  lights.key.intensity: {lr: 1.0e+38}
"""


def test_a_diverging_step_is_rolled_back_and_reported(tmp_path):
    runner = make_runner()
    scene = tmp_path / "scene.yaml"
    scene.write_text(SCENE)
    ref = tmp_path / "ref.exr"
    assert runner.invoke(app, ["render", str(scene), "-o", str(ref), "--arch", "cpu"]).exit_code == 0
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit", str(scene), str(ref), "--arch", "cpu", "--iterations", "6",
                                 "--frame-every", "0", "--out", str(out), "--json",
                                 "--optimizer", "adam"])  # Adam's guard (learning rates halved)
    assert result.exit_code == 0, result.output
    assert "rolled back to the best parameters (iteration 0) and halved the learning rates" in result.stderr
    summary = json.loads(result.stdout)
    halvings = summary["halvings"]
    assert halvings >= 2  # 1e38 halved once still overflows
    assert result.stderr.count("rolled back to the best parameters") == 1
    more = halvings - 1
    assert f"the loss or a gradient was not finite {more} more time{'s' if more > 1 else ''}" in result.stderr
    assert f"({halvings} halvings in all)" in result.stderr
    assert summary["parameters"]["lights.key.intensity"]["fitted"] == [10.0, 10.0, 10.0]
    settings = json.loads((out / "settings.json").read_text())
    assert settings["halvings"] == summary["halvings"]
