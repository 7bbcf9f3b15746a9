"""Tests for the ``raydiff`` command line: ``render`` and ``fit`` on a tiny scene, and every way they refuse.

Taichi compiles kernels for each scene it meets (seconds), so the files are made once per module, the
reference is rendered once and the number of real fits is kept to two.
"""

from __future__ import annotations

import csv
import json
import os
import re

import numpy as np
import pytest
from cli_runner import make_runner

import raydiff
import raydiff.backend
from raydiff.run.animation import ffmpeg_available

from raydiff_cli.main import app

runner = make_runner()

TRUE_LIGHT = [1.0, 2.0, 1.0]
START_LIGHT = [-0.5, 1.5, 0.5]

SCENE = """\
camera: {{position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}}
film: {{width: 32, height: 24, spp: 2}}
objects:
  - {{name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}}
  - {{name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}}
lights:
  - {{name: key, type: point, position: {light}, intensity: 8}}
"""
OPTIMIZE = """\
optimize:
  lights.key.position: {lr: 0.1}
"""


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The scenes and images every test uses, and the reference rendered by ``raydiff render``."""
    d = tmp_path_factory.mktemp("cli")
    paths = {
        "true": d / "true.yaml",
        "start": d / "start.yaml",
        "no_optimize": d / "no_optimize.yaml",
        "malformed": d / "malformed.yaml",
        "unknown_key": d / "unknown_key.yaml",
        "ref": d / "ref.png",
        "small_ref": d / "small_ref.png",
        "corrupt_ref": d / "corrupt_ref.png",
    }
    paths["true"].write_text(SCENE.format(light=TRUE_LIGHT))
    paths["start"].write_text(SCENE.format(light=START_LIGHT) + OPTIMIZE)
    paths["no_optimize"].write_text(SCENE.format(light=START_LIGHT))
    paths["malformed"].write_text(SCENE.format(light=START_LIGHT).replace("[0, 0.4, 0]", "[0, 0.4, 0") + OPTIMIZE)
    paths["unknown_key"].write_text(SCENE.format(light=START_LIGHT) + OPTIMIZE + "colour: red\n")
    raydiff.write_image(paths["small_ref"], np.full((16, 16, 3), 0.5, dtype=np.float32))
    paths["corrupt_ref"].write_bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8).tobytes())

    result = invoke("render", paths["true"], "-o", paths["ref"], "--spp", 4, "--arch", "cpu")
    assert result.exit_code == 0, result.output
    paths["render_stdout"] = result.stdout
    return paths


@pytest.fixture(scope="module")
def fitted(files, tmp_path_factory):
    """One fit into the default output folder (outputs/<scene>-<time>/ under the current directory)."""
    cwd = tmp_path_factory.mktemp("cwd")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = invoke("fit", files["start"], files["ref"], "--iterations", 5, "--frame-every", 2, "--arch", "cpu")
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    runs = os.listdir(cwd / "outputs")
    assert len(runs) == 1, runs
    return result, cwd / "outputs" / runs[0], cwd


# ---------------------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------------------


def test_render_writes_the_picture_and_says_so(files):
    assert files["render_stdout"] == f"wrote {files['ref']} (32x24, 4 spp, backend: cpu)\n"
    image = raydiff.read_reference(files["ref"], 32, 24).linear
    assert 0.0 < image.mean() < 1.0


def test_render_refuses_an_unwritable_image_type_before_rendering(files, tmp_path):
    result = invoke("render", files["true"], "-o", tmp_path / "out.tif", "--arch", "cpu")
    assert_one_error_line(result, "out.tif")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------
# fit: the outputs
# ---------------------------------------------------------------------------------------------------------


def test_fit_writes_its_folder_under_the_default_name(fitted, files):
    result, folder, cwd = fitted
    assert re.fullmatch(r"start-\d{8}-\d{6}", folder.name)
    assert sorted(os.listdir(cwd / "outputs")) == [folder.name]  # no temporary folder left
    expected = ["animation.gif", "checkpoint.npz", "fitted.yaml", "frames", "history.csv", "loss.png",
                "parameters.png", "params.json", "report.html", "settings.json"]
    if ffmpeg_available():
        expected.insert(1, "animation.mp4")
    assert sorted(os.listdir(folder)) == expected


def test_fit_saves_a_frame_every_k_iterations_and_the_last(fitted):
    _, folder, _ = fitted
    assert sorted(os.listdir(folder / "frames")) == ["00000.png", "00002.png", "00004.png"]
    frame = raydiff.read_image(folder / "frames" / "00004.png").linear  # render | reference | error
    assert frame.shape[0] >= 240 and frame.shape[1] > 3 * frame.shape[0] and frame.mean() > 0


def test_fit_history_has_one_row_per_iteration(fitted):
    _, folder, _ = fitted
    with open(folder / "history.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["iteration", "loss"] + [f"lights.key.position[{i}]" for i in range(3)]
    assert len(rows) == 1 + 5
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3", "4"]
    values = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(values[0, 2:], START_LIGHT, rtol=1e-6)  # row 0: the starting values
    assert np.all(values[:, 1] > 0)


def test_fit_params_and_fitted_scene_agree(fitted):
    _, folder, _ = fitted
    params = json.loads((folder / "params.json").read_text())
    assert list(params) == ["lights.key.position"]
    position = params["lights.key.position"]
    assert len(position) == 3 and all(isinstance(x, float) for x in position)
    assert position != START_LIGHT  # it moved

    scene = raydiff.load_scene(folder / "fitted.yaml")
    np.testing.assert_allclose(scene.light("key").position, position, rtol=1e-12)
    assert [entry.path for entry in scene.optimize] == ["lights.key.position"]  # still fittable from there


def test_fit_settings_json(fitted):
    _, folder, _ = fitted
    data = json.loads((folder / "settings.json").read_text())
    assert data["settings"]["iterations"] == 5
    assert data["settings"]["loss"] == "mse"
    assert data["backend"]["name"] == "cpu"
    assert data["frame_every"] == 2
    assert data["seconds"] > 0
    assert data["iterations_run"] == 5 and data["stopped_early"] is False and data["halvings"] == 0


def test_fit_prints_a_summary(fitted):
    result, folder, _ = fitted
    out = result.stdout
    assert "backend     cpu" in out
    assert re.search(r"iterations  5 in [\d.]+ s \([\d.]+ ms/iteration\)", out)
    assert re.search(r"loss        [\d.e-]+ -> [\d.e-]+ \(best [\d.e-]+ at iteration \d\)", out)
    assert re.search(r"lights\.key\.position +\[-0\.5, 1\.5, 0\.5\] +-> +\[", out)
    assert os.path.join("outputs", folder.name) in out
    assert "Traceback" not in result.output


def test_fit_into_an_existing_empty_folder_without_frames(files, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    result = invoke("fit", files["start"], files["ref"], "--iterations", 2, "--frame-every", 0, "--arch", "cpu",
                    "--out", out, "--loss", "l1", "--lr", 0.05, "--lr-decay", 0.9, "--spp", 1, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "fitted.yaml", "history.csv", "loss.png", "parameters.png",
                                       "params.json", "report.html", "settings.json"]
    settings = json.loads((out / "settings.json").read_text())["settings"]
    assert settings == {"iterations": 2, "lr": 0.05, "lr_decay": 0.9, "spp": 1, "seed": 3, "loss": "l1",
                        "decorrelate": True, "boundary": True, "tol": 0.001, "window": 10, "beta2": 0.9,
                        "optimizer": "auto", "primary_sets": 8, "primary_refresh": 1}
    assert str(out) in result.stdout


# ---------------------------------------------------------------------------------------------------------
# fit: refusals. Each is one line on stderr, exit code 1, and nothing written.
# ---------------------------------------------------------------------------------------------------------


def assert_one_error_line(result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty current directory and an empty parent for --out; both must stay empty."""
    monkeypatch.chdir(tmp_path)
    parent = tmp_path / "outs"
    parent.mkdir()
    yield parent
    assert os.listdir(parent) == []
    assert sorted(os.listdir(tmp_path)) == ["outs"]  # no outputs/ either


@pytest.mark.parametrize(
    "scene, ref, fragments",
    [
        ("malformed", "ref", ["malformed.yaml:1", "malformed YAML"]),
        ("unknown_key", "ref", ["unknown_key.yaml", "colour"]),
        ("missing.yaml", "ref", ["missing.yaml", "cannot read scene file"]),
        ("start", "missing.png", ["missing.png", "no such file"]),
        ("start", "small_ref", ["small_ref.png", "16x16", "32x24"]),
        ("start", "corrupt_ref", ["corrupt_ref.png", "cannot read the image"]),
        ("no_optimize", "ref", ["no_optimize.yaml", "optimize"]),
    ],
)
def test_fit_refuses_bad_inputs(files, workdir, scene, ref, fragments):
    scene_path = files.get(scene, files["start"].parent / scene)
    ref_path = files.get(ref, files["start"].parent / ref)
    result = invoke("fit", scene_path, ref_path, "--arch", "cpu", "--out", workdir / "run")
    assert_one_error_line(result, *fragments)


@pytest.mark.parametrize(
    "option, fragment",
    [(["--lr", "-1"], "--lr must be a finite positive number"), (["--lr-decay", "1.5"], "--lr-decay"), (["--spp", "0"], "--spp")],
)
def test_fit_refuses_bad_settings(files, workdir, option, fragment):
    result = invoke("fit", files["start"], files["ref"], "--arch", "cpu", "--out", workdir / "run", *option)
    assert_one_error_line(result, fragment)


def test_fit_refuses_a_folder_that_is_not_empty(files, workdir):
    out = workdir / "full"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = invoke("fit", files["start"], files["ref"], "--arch", "cpu", "--out", out)
    assert_one_error_line(result, "full", "not empty")
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    assert os.listdir(workdir) == ["full"]
    out.joinpath("keep.txt").unlink()
    out.rmdir()


def test_fit_refuses_a_backend_that_is_not_there(files, workdir):
    if raydiff.backend.available("cuda"):
        pytest.skip("this machine has CUDA")
    result = invoke("fit", files["start"], files["ref"], "--arch", "cuda", "--out", workdir / "run")
    assert_one_error_line(result, "cuda", "not available")


def test_wrong_usage_is_typers_exit_code_2(files):
    assert invoke("fit", files["start"]).exit_code == 2  # no REF
    assert invoke("fit", files["start"], files["ref"], "--loss", "huber").exit_code == 2
    assert invoke("fit", files["start"], files["ref"], "--frame-every", "-1").exit_code == 2
    assert invoke("render", files["true"]).exit_code == 2  # no -o


# ---------------------------------------------------------------------------------------------------------
# fit: dying before the first iteration (the loop replaced by a stand-in: no Taichi needed). A bug keeps
# the folder (its starting checkpoint is the work done so far); Ctrl-C then, during start-up, takes it back.
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error, code", [(KeyboardInterrupt, 130), (RuntimeError, 1)])
def test_a_fit_that_dies_at_start_up(files, tmp_path, monkeypatch, error, code):
    def broken_fit(scene, reference, settings, callback=None, resume=None, started=None):
        raise error("stop")

    monkeypatch.setattr(raydiff, "fit", broken_fit)
    result = invoke("fit", files["start"], files["ref"], "--arch", "cpu", "--out", tmp_path / "run")
    assert result.exit_code == code
    if error is KeyboardInterrupt:
        assert result.stderr.splitlines()[-1] == "interrupted"
        assert not (tmp_path / "run").exists()
    else:
        assert (tmp_path / "run").is_dir() and os.listdir(tmp_path / "run") == []  # the claim given back
        assert isinstance(result.exception, RuntimeError)  # a bug is not dressed up as an error line


def test_sigterm_while_the_results_are_written_lets_them_all_be_written(files, tmp_path, monkeypatch):
    import signal

    from raydiff.run.folder import RunFolder

    def finished_fit(scene, references, settings, callback=None, resume=None, started=None):
        start = {"lights.key.position": np.array(START_LIGHT)}
        history = np.array([[0.0, 0.5, *START_LIGHT]])
        return raydiff.FitResult(scene=scene, values=start, last_values=start, start=start,
                                 columns=["iteration", "loss", *(f"lights.key.position[{i}]" for i in range(3))], history=history,
                                 final_images=[np.zeros((24, 32, 3), dtype=np.float32)], view_names=["camera"],
                                 backend="cpu", settings=settings, best_iteration=0, best_loss=0.5)

    finish = RunFolder.finish

    def terminated_while_finishing(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # the fit's handler notes it; the writes go on
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(raydiff, "fit", finished_fit)
    monkeypatch.setattr(RunFolder, "finish", terminated_while_finishing)
    out = tmp_path / "run"
    result = invoke("fit", files["start"], files["ref"], "--arch", "cpu", "--iterations", 1, "--out", out)
    assert result.exit_code == 143
    assert result.stderr.splitlines()[-1] == ("SIGTERM came while the results were being written; all of them were "
                                              "written, and the fit had finished")
    assert (out / "report.html").is_file() and not json.loads((out / "settings.json").read_text())["stopped_early"]


# ---------------------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------------------


def test_version_and_help():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"raydiff {raydiff.__version__}\n"
    help_text = invoke("fit", "--help")
    assert help_text.exit_code == 0
    for option in ("--iterations", "--lr", "--lr-decay", "--spp", "--loss", "--arch", "--out", "--frame-every", "--seed"):
        assert option in help_text.stdout
    assert invoke().exit_code in (0, 2)  # no arguments: the help
