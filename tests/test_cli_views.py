"""The command line with several cameras (views): ``render`` writes one picture per camera, ``fit`` takes one
reference per camera and shows every view in its frames and report, and ``--truth`` reads camera and nested
paths (``cameras.right.fov``, ``camera.fov``, ``objects.box.rotate.angle``).

The scenes are tiny (16 x 12 pixels, 1 sample) and there are two real fits, so the module stays fast.
"""

from __future__ import annotations

import base64
import io
import json
import os
from html.parser import HTMLParser

import numpy as np
import pytest
from cli_runner import make_runner
from PIL import Image

import raydiff
from raydiff.io.images import encode_8bit
from raydiff.run.folder import RunFolder

from raydiff_cli.main import app

runner = make_runner()

CUBE = """\
v -0.5 -0.5 -0.5
v 0.5 -0.5 -0.5
v 0.5 0.5 -0.5
v -0.5 0.5 -0.5
v -0.5 -0.5 0.5
v 0.5 -0.5 0.5
v 0.5 0.5 0.5
v -0.5 0.5 0.5
f 1 4 3 2
f 5 6 7 8
f 1 2 6 5
f 4 8 7 3
f 1 5 8 4
f 2 3 7 6
"""

CAMERAS = """\
cameras:
  - {{name: left, position: [-1.5, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}}
  - {{name: right, position: [1.8, 1.5, 3.5], look_at: [0, 0.3, 0], fov: {fov}, weight: 0.5}}
"""
CAMERA = """\
camera: {{position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: {fov}}}
"""
WORLD = """\
film: {{width: 16, height: 12, spp: 1}}
objects:
  - {{name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}}
  - name: box
    type: mesh
    file: cube.obj
    scale: 0.6
    rotate: {{axis: [0, 1, 0], angle: {angle}}}
    translate: [0, 0.3, 0]
    albedo: [0.8, 0.3, 0.2]
lights:
  - {{name: key, type: point, position: {light}, intensity: 8}}
"""
TRUE = dict(fov=40, angle=30, light=[1.0, 2.0, 1.0])
START = dict(fov=43, angle=24, light=[0.6, 1.8, 1.2])
OPTIMIZE_VIEWS = """\
optimize:
  lights.key.position: {lr: 0.1}
  cameras.right.fov: {}
  objects.box.rotate.angle: {}
"""
OPTIMIZE_ONE = """\
optimize:
  camera.fov: {}
  objects.box.rotate.angle: {}
"""
ITERATIONS = 3
#: These tests are about views, frames, the report and --truth, not gradients: their fits leave out the
#: boundary terms, whose kernels (a mesh's edges, with the camera free) take a minute to compile on CI.
FAST = ("--no-boundary",)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def scene_text(camera: str, values: dict, optimize: str = "") -> str:
    return camera.format(fov=values["fov"]) + WORLD.format(angle=values["angle"], light=values["light"]) + optimize


def assert_one_error_line(result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two-camera scenes (the truth, the start) and one-camera ones, and the references ``render`` made."""
    d = tmp_path_factory.mktemp("views")
    (d / "cube.obj").write_text(CUBE)
    paths = {
        "dir": d,
        "true": d / "true.yaml",
        "start": d / "start.yaml",
        "true_one": d / "true_one.yaml",
        "start_one": d / "start_one.yaml",
    }
    paths["true"].write_text(scene_text(CAMERAS, TRUE))
    paths["start"].write_text(scene_text(CAMERAS, START, OPTIMIZE_VIEWS))
    paths["true_one"].write_text(scene_text(CAMERA, TRUE))
    paths["start_one"].write_text(scene_text(CAMERA, START, OPTIMIZE_ONE))

    result = invoke("render", paths["true"], "-o", d / "ref.png", "--spp", 4, "--arch", "cpu")
    assert result.exit_code == 0, result.output
    paths["render_stdout"] = result.stdout
    paths["left"], paths["right"] = d / "ref_left.png", d / "ref_right.png"
    result = invoke("render", paths["true_one"], "-o", d / "ref_one.png", "--spp", 4, "--arch", "cpu")
    assert result.exit_code == 0, result.output
    paths["one"] = d / "ref_one.png"
    return paths


@pytest.fixture(scope="module")
def fitted(files, tmp_path_factory):
    """One fit of the two-camera scene against its two references, with --truth, recording the frames'
    views as the CLI passes them to RunFolder.write_frame."""
    out = tmp_path_factory.mktemp("fit") / "run"
    calls = []
    original = RunFolder.write_frame

    def recording(self, iteration, render, reference, loss, view_names=None):
        calls.append((iteration, [np.array(r) for r in render], [r.linear for r in reference], list(view_names)))
        return original(self, iteration, render, reference, loss, view_names=view_names)

    mp = pytest.MonkeyPatch()
    mp.setattr(RunFolder, "write_frame", recording)
    try:
        result = invoke("fit", files["start"], files["left"], files["right"], "--iterations", ITERATIONS,
                        "--frame-every", 2, "--arch", "cpu", "--out", out, "--truth", files["true"], "--json",
                        *FAST)
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    return result, out, calls


# ---------------------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------------------


def test_render_writes_one_picture_per_camera(files):
    d = files["dir"]
    assert files["render_stdout"] == (f"wrote {d / 'ref_left.png'} (camera left, 16x12, 4 spp, backend: cpu)\n"
                                      f"wrote {d / 'ref_right.png'} (camera right, 16x12, 4 spp, backend: cpu)\n")
    assert not (d / "ref.png").exists()
    left = raydiff.read_reference(files["left"], 16, 12).linear
    right = raydiff.read_reference(files["right"], 16, 12).linear
    assert left.mean() > 0 and right.mean() > 0
    assert not np.array_equal(left, right)  # two cameras, two pictures


def test_render_view_writes_that_camera_alone_to_out(files, tmp_path):
    out = tmp_path / "just_right.png"
    result = invoke("render", files["true"], "-o", out, "--spp", 4, "--arch", "cpu", "--view", "right")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out} (camera right, 16x12, 4 spp, backend: cpu)\n"
    assert os.listdir(tmp_path) == ["just_right.png"]
    assert out.read_bytes() == files["right"].read_bytes()


def test_render_refuses_an_unknown_view(files, tmp_path):
    result = invoke("render", files["true"], "-o", tmp_path / "out.png", "--arch", "cpu", "--view", "rigth")
    assert_one_error_line(result, f"{files['true']}: cameras", "no camera named 'rigth' (did you mean 'right'?)",
                          "left, right")
    assert os.listdir(tmp_path) == []


def test_render_refuses_before_writing_if_any_camera_cannot_be_written(files, tmp_path):
    (tmp_path / "out_right.png").mkdir()
    result = invoke("render", files["true"], "-o", tmp_path / "out.png", "--arch", "cpu")
    assert_one_error_line(result, "out_right.png", "is a folder", "camera 'right'")
    assert os.listdir(tmp_path) == ["out_right.png"]  # out_left.png was not written either


def test_render_writes_every_camera_or_none(files, tmp_path, monkeypatch):
    (tmp_path / "out_left.png").write_bytes(b"old")
    real = raydiff.write_image
    written = []

    def failing(path, image):
        written.append(path)
        if len(written) == 2:
            raise raydiff.errors.OutputError(path, "cannot write: No space left on device")
        real(path, image)

    monkeypatch.setattr(raydiff, "write_image", failing)
    result = invoke("render", files["true"], "-o", tmp_path / "out.png", "--arch", "cpu")
    assert_one_error_line(result, "No space left on device")
    assert os.listdir(tmp_path) == ["out_left.png"]  # no temporary file left, no out_right.png
    assert (tmp_path / "out_left.png").read_bytes() == b"old"  # and the first camera's file is untouched


def test_render_of_one_camera_is_unchanged(files):
    assert raydiff.read_reference(files["one"], 16, 12).linear.mean() > 0
    result = invoke("render", files["true_one"], "-o", files["dir"] / "again.png", "--spp", 4, "--arch", "cpu",
                    "--view", "camera")
    assert result.exit_code == 0, result.output
    assert (files["dir"] / "again.png").read_bytes() == files["one"].read_bytes()


def test_render_help_documents_the_views():
    help_text = " ".join(invoke("render", "--help").stdout.split())
    assert "--view" in help_text and "_<camera>" in help_text


# ---------------------------------------------------------------------------------------------------------
# fit: one reference per camera
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty current directory and an empty parent for --out; both must stay empty."""
    monkeypatch.chdir(tmp_path)
    parent = tmp_path / "outs"
    parent.mkdir()
    yield parent
    assert os.listdir(parent) == []
    assert sorted(os.listdir(tmp_path)) == ["outs"]


@pytest.mark.parametrize("refs, said", [(["left"], "1 reference was given"),
                                        (["left", "right", "left"], "3 references were given")])
def test_fit_refuses_a_reference_count_other_than_the_cameras(files, workdir, refs, said):
    result = invoke("fit", files["start"], *[files[r] for r in refs], "--arch", "cpu", "--out", workdir / "run")
    line = assert_one_error_line(result)
    assert line == (f"error: {files['start']}: cameras: the scene has 2 cameras (left, right) but {said}: "
                    "give one reference per camera, in order")


def test_fit_of_one_camera_refuses_two_references(files, workdir):
    result = invoke("fit", files["start_one"], files["one"], files["one"], "--arch", "cpu", "--out", workdir / "run")
    line = assert_one_error_line(result)
    assert line == (f"error: {files['start_one']}: camera: the scene has 1 camera but 2 references were given: "
                    "give one reference per camera, in order")


def test_fit_checks_the_size_of_every_reference(files, workdir):
    small = workdir.parent / "small.png"
    raydiff.write_image(small, np.full((6, 8, 3), 0.5, dtype=np.float32))
    result = invoke("fit", files["start"], files["left"], small, "--arch", "cpu", "--out", workdir / "run")
    assert_one_error_line(result, "small.png", "8x6", "16x12")
    small.unlink()


def test_every_frame_shows_every_view_in_camera_order(fitted, files):
    _, out, calls = fitted
    assert [c[0] for c in calls] == [0, 2]
    left = raydiff.read_reference(files["left"], 16, 12).linear
    right = raydiff.read_reference(files["right"], 16, 12).linear
    for _, renders, references, names in calls:
        assert names == ["left", "right"]
        assert [r.shape for r in renders] == [(12, 16, 3)] * 2
        np.testing.assert_array_equal(references[0], left)
        np.testing.assert_array_equal(references[1], right)
    assert sorted(os.listdir(out / "frames")) == ["00000.png", "00002.png"]
    frame = raydiff.read_image(out / "frames" / "00002.png").linear
    assert frame.shape[0] > 2 * 240 and frame.shape[1] > 3 * 16 * 20  # two rows of three 240-pixel panels


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: dict[str, list] = {}
        self.row = None
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("id", "").startswith("view-"):
            self.row = self.rows.setdefault(attrs["id"], [])
        elif tag == "img" and self.row is not None:
            self.row.append(attrs)

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None

    def handle_data(self, data):
        self.text.append(data)


def _png(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))) as image:
        return np.asarray(image.convert("RGB"))


def test_the_report_shows_every_views_render_reference_and_error(fitted, files):
    _, out, _ = fitted
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    assert list(page.rows) == ["view-0", "view-1"]
    for view, name, ref in (("view-0", "left", files["left"]), ("view-1", "right", files["right"])):
        images = page.rows[view]
        assert [img["alt"] for img in images] == [f"{name}: final render", f"{name}: reference", f"{name}: error"]
        shown = _png(images[1]["src"])
        np.testing.assert_array_equal(shown, encode_8bit(raydiff.read_reference(ref, 16, 12).linear))
        assert _png(images[0]["src"]).shape == (12, 16, 3)
    text = "".join(page.text)
    assert str(files["left"]) in text and str(files["right"]) in text and "weight 0.5" in text
    assert "cameras.right.fov" in text and "objects.box.rotate.angle" in text


def test_the_fit_records_every_reference_and_writes_the_paths_as_in_the_scene(fitted, files):
    result, out, _ = fitted
    settings = json.loads((out / "settings.json").read_text())
    assert settings["references"] == [str(files["left"]), str(files["right"])]
    assert settings["cameras"] == ["left", "right"] and len(settings["references_sha256"]) == 2
    assert "reference" not in settings
    summary = json.loads(result.stdout)
    assert summary["references"] == [str(files["left"]), str(files["right"])]
    assert summary["cameras"] == ["left", "right"]
    params = json.loads((out / "params.json").read_text())
    assert list(params) == ["lights.key.position", "cameras.right.fov", "objects.box.rotate.angle"]
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert header == ["iteration", "loss", "lights.key.position[0]", "lights.key.position[1]",
                      "lights.key.position[2]", "cameras.right.fov[0]", "objects.box.rotate.angle[0]"]
    assert len((out / "history.csv").read_text().splitlines()) == 1 + ITERATIONS
    fitted_scene = raydiff.load_scene(out / "fitted.yaml")
    assert [c.name for c in fitted_scene.cameras] == ["left", "right"]
    assert fitted_scene.cameras[1].fov == pytest.approx(params["cameras.right.fov"][0], rel=1e-12)


def test_truth_values_are_read_by_camera_and_nested_paths(fitted):
    result, _, _ = fitted
    parameters = json.loads(result.stdout)["parameters"]
    assert parameters["cameras.right.fov"]["truth"] == [40.0]
    assert parameters["objects.box.rotate.angle"]["truth"] == [30.0]
    assert parameters["lights.key.position"]["truth"] == [1.0, 2.0, 1.0]
    assert parameters["cameras.right.fov"]["start"] == [43.0]


def test_resume_checks_every_reference_in_order(fitted, files):
    _, out, _ = fitted
    before = sorted(os.listdir(out))
    result = invoke("fit", files["start"], files["right"], files["left"], "--resume", out, "--arch", "cpu", *FAST)
    assert_one_error_line(result, f"{files['right']}: this reference is not the one the fit in {out} started from",
                          f"(it was {files['left']})")
    assert sorted(os.listdir(out)) == before


# ---------------------------------------------------------------------------------------------------------
# --truth with one camera: camera.<field>
# ---------------------------------------------------------------------------------------------------------


def test_truth_reads_camera_paths_of_a_scene_with_one_camera(files, tmp_path):
    result = invoke("fit", files["start_one"], files["one"], "--iterations", 1, "--frame-every", 0, "--arch", "cpu",
                    "--out", tmp_path / "run", "--truth", files["true_one"], "--json", *FAST)
    assert result.exit_code == 0, result.output
    parameters = json.loads(result.stdout)["parameters"]
    assert parameters["camera.fov"]["truth"] == [40.0]
    assert parameters["objects.box.rotate.angle"]["truth"] == [30.0]
    assert json.loads(result.stdout)["cameras"] == ["camera"]


@pytest.mark.parametrize(
    "scene, truth, fragments",
    [
        ("start_one", "true", ["true.yaml: cameras", "--truth lists several cameras (left, right)", "has one"]),
        ("start", "true_one", ["true_one.yaml: camera", "--truth has one camera", "cameras.right.fov"]),
        ("start_one", "sphere_box", ["sphere_box.yaml: objects", "--truth's object 'box' is a sphere",
                                     "no 'rotate.angle'"]),
        ("start", "other_cameras", ["other_cameras.yaml: cameras", "--truth has no camera named 'right'"]),
    ],
)
def test_truth_must_have_what_the_fit_frees(files, workdir, scene, truth, fragments):
    d = files["dir"]
    (d / "sphere_box.yaml").write_text(
        scene_text(CAMERA, TRUE).replace("type: mesh\n    file: cube.obj\n    scale: 0.6\n"
                                         "    rotate: {axis: [0, 1, 0], angle: 30}\n    translate: [0, 0.3, 0]\n",
                                         "type: sphere\n    center: [0, 0.3, 0]\n    radius: 0.3\n"))
    (d / "other_cameras.yaml").write_text(scene_text(CAMERAS, TRUE).replace("name: right", "name: far"))
    refs = [files["one"]] if scene == "start_one" else [files["left"], files["right"]]
    truth_path = files.get(truth, d / f"{truth}.yaml")
    result = invoke("fit", files[scene], *refs, "--arch", "cpu", "--out", workdir / "run", "--truth", truth_path)
    assert_one_error_line(result, *fragments)


# ---------------------------------------------------------------------------------------------------------
# The two_views example through the command line: two references in, one fit, every view out
# ---------------------------------------------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_FILM, SMALL_FILM = "film: {width: 160, height: 120, spp: 4}", "film: {width: 80, height: 60, spp: 4}"


@pytest.mark.slow
def test_fit_of_the_two_views_example_recovers_the_sphere_from_both_references(tmp_path):
    """`raydiff fit scenes/two_views.yaml LEFT RIGHT --truth ...` (README), on a quarter of the example's
    pixels and with references `raydiff render` makes from the true scene: the sphere's centre comes back to
    within 1% of the scene's size and its radius to 1%, and the frames and report.html show both views."""
    from raydiff.scene.parameters import scene_size

    for name in ("two_views.yaml", "truth/two_views.yaml"):
        text = open(os.path.join(ROOT, "scenes", name), encoding="utf-8").read()
        assert EXAMPLE_FILM in text
        (tmp_path / name.replace("truth/", "true_")).write_text(text.replace(EXAMPLE_FILM, SMALL_FILM))
    result = invoke("render", tmp_path / "true_two_views.yaml", "-o", tmp_path / "ref.png", "--spp", 64, "--arch", "cpu")
    assert result.exit_code == 0, result.output
    left, right = tmp_path / "ref_left.png", tmp_path / "ref_right.png"
    out = tmp_path / "run"
    result = invoke("fit", tmp_path / "two_views.yaml", left, right, "--truth", tmp_path / "true_two_views.yaml",
                    "--iterations", 100, "--tol", 0, "--frame-every", 50, "--arch", "cpu", "--out", out,
                    "--json")  # every iteration runs: the frames below are at fixed iterations
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["cameras"] == ["left", "right"] and summary["references"] == [str(left), str(right)]
    size = scene_size(raydiff.load_scene(tmp_path / "true_two_views.yaml"))
    centre, radius = summary["parameters"]["objects.ball.center"], summary["parameters"]["objects.ball.radius"]
    assert np.linalg.norm(np.subtract(centre["start"], centre["truth"])) > 0.03 * size  # visibly wrong at first
    assert np.linalg.norm(np.subtract(centre["fitted"], centre["truth"])) < 0.01 * size, centre
    assert abs(radius["start"][0] / radius["truth"][0] - 1) > 0.05
    assert abs(radius["fitted"][0] / radius["truth"][0] - 1) < 0.01, radius

    assert sorted(os.listdir(out / "frames")) == ["00000.png", "00050.png", "00099.png"]
    for frame in os.listdir(out / "frames"):
        assert raydiff.read_image(out / "frames" / frame).linear.shape[0] > 2 * 240  # a row per view
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    assert list(page.rows) == ["view-0", "view-1"]
    for view, name, ref in (("view-0", "left", left), ("view-1", "right", right)):
        images = page.rows[view]
        assert [img["alt"] for img in images] == [f"{name}: final render", f"{name}: reference", f"{name}: error"]
        np.testing.assert_array_equal(_png(images[1]["src"]), encode_8bit(raydiff.read_reference(ref, 80, 60).linear))
        final = _png(images[0]["src"]).astype(np.float64)
        assert np.abs(final - _png(images[1]["src"])).mean() < 8  # the final render matches its reference
