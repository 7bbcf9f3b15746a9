"""Tests for raydiff.plots: the loss and parameter plots of a fit's history, and the true values."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from raydiff import load_scene_string
from raydiff.errors import OutputError, SceneError
from raydiff.run.plots import (
    component_labels,
    parameter_columns,
    plot_loss,
    plot_parameters,
    truth_values,
)

COLUMNS = [
    "iteration",
    "loss",
    "lights.key.position[0]",
    "lights.key.position[1]",
    "lights.key.position[2]",
    "objects.red.albedo[0]",
    "objects.red.albedo[1]",
    "objects.red.albedo[2]",
]

TRUTH_SCENE = """
camera: {position: [0, 1, 4], look_at: [0, 0, 0]}
film: {width: 8, height: 6}
objects:
  - {name: red, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.15, 0.1]}
lights:
  - {name: key, type: point, position: [1.0, 1.5, -0.5], intensity: [12, 12, 12]}
"""


def history(n: int = 40) -> np.ndarray:
    """A converging synthetic fit: the loss falls geometrically, the values approach the truth."""
    t = np.arange(n, dtype=np.float64)
    decay = np.exp(-t / 8.0)
    position = np.array([1.0, 1.5, -0.5]) + np.outer(decay, [-0.6, 0.7, 0.6])
    albedo = np.array([0.8, 0.15, 0.1]) + np.outer(decay, [-0.3, 0.3, 0.4])
    return np.column_stack([t, 0.03 * decay**2 + 1e-5, position, albedo])


def read_png(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_loss_plot_is_a_png_of_plausible_size(tmp_path):
    path = tmp_path / "loss.png"
    plot_loss(COLUMNS, history(), path)
    pixels = read_png(path)
    assert 600 <= pixels.shape[1] <= 800 and 300 <= pixels.shape[0] <= 500
    assert pixels.std() > 5  # something is drawn
    assert os.listdir(tmp_path) == ["loss.png"]


def test_loss_plot_survives_zero_negative_nan_and_empty_histories(tmp_path):
    h = history(5)
    h[1, 1], h[2, 1], h[3, 1] = 0.0, -1.0, np.nan
    plot_loss(COLUMNS, h, tmp_path / "odd.png")
    plot_loss(COLUMNS, np.zeros((0, len(COLUMNS))), tmp_path / "empty.png")
    plot_loss(COLUMNS, history(1), tmp_path / "one.png")
    for name in ("odd.png", "empty.png", "one.png"):
        assert read_png(tmp_path / name).shape[0] > 100


def test_parameter_plot_has_one_panel_per_parameter(tmp_path):
    plot_parameters(COLUMNS[:5], history()[:, :5], tmp_path / "one.png")
    plot_parameters(COLUMNS, history(), tmp_path / "two.png")
    four = COLUMNS + [f"lights.fill.position[{i}]" for i in range(3)] + [f"lights.fill.intensity[{i}]" for i in range(3)]
    h = np.column_stack([history(), history()[:, 2:]])
    plot_parameters(four, h, tmp_path / "four.png")
    two, four_pixels = read_png(tmp_path / "two.png"), read_png(tmp_path / "four.png")
    assert two.shape[1] == 700 and four_pixels.shape[1] == 1100  # four parameters: two columns
    one = read_png(tmp_path / "one.png")
    assert one.shape[1] == 700 and one.shape[0] < two.shape[0] == four_pixels.shape[0]  # rows of 2.4 inches


def test_truth_lines_are_drawn(tmp_path):
    truth = {"lights.key.position": np.array([1.0, 1.5, -0.5]), "objects.red.albedo": np.array([0.8, 0.15, 0.1])}
    plot_parameters(COLUMNS, history(), tmp_path / "plain.png")
    plot_parameters(COLUMNS, history(), tmp_path / "truth.png", truth=truth)
    plain, with_truth = read_png(tmp_path / "plain.png"), read_png(tmp_path / "truth.png")
    assert plain.shape == with_truth.shape
    assert np.mean(np.any(plain != with_truth, axis=2)) > 0.001
    # a truth for a parameter that is not in the history is ignored
    plot_parameters(COLUMNS, history(), tmp_path / "extra.png", truth={**truth, "lights.other.position": [0, 0, 0]})


def test_start_row_skips_the_first_rows(tmp_path):
    plot_parameters(COLUMNS, history(), tmp_path / "all.png")
    plot_parameters(COLUMNS, history(), tmp_path / "late.png", start_row=20)
    assert np.any(read_png(tmp_path / "all.png") != read_png(tmp_path / "late.png"))
    plot_parameters(COLUMNS, history(), tmp_path / "none.png", start_row=100)  # nothing left: still a plot
    with pytest.raises(ValueError, match="start_row"):
        plot_parameters(COLUMNS, history(), tmp_path / "bad.png", start_row=-1)


def test_bad_histories_and_truths_are_refused(tmp_path):
    with pytest.raises(ValueError, match="columns"):
        plot_loss(COLUMNS, np.zeros((3, 4)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no free parameter"):
        plot_parameters(["iteration", "loss"], np.zeros((3, 2)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="components"):
        plot_parameters(COLUMNS, history(), tmp_path / "x.png", truth={"objects.red.albedo": [0.5, 0.5]})
    with pytest.raises(OutputError):
        plot_loss(COLUMNS, history(), tmp_path / "missing" / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_parameter_columns_and_component_labels():
    assert parameter_columns(COLUMNS) == {"lights.key.position": [2, 3, 4], "objects.red.albedo": [5, 6, 7]}
    assert parameter_columns(["iteration", "loss", "a.b.c[1]", "a.b.c[0]"]) == {"a.b.c": [3, 2]}
    assert component_labels("lights.key.position", 3) == ["x", "y", "z"]
    assert component_labels("lights.key.intensity", 3) == ["r", "g", "b"]
    assert component_labels("objects.red.albedo", 3) == ["r", "g", "b"]
    assert component_labels("objects.s.radius", 1) == ["[0]"]


def test_truth_values_read_the_truth_scene():
    scene = load_scene_string(TRUTH_SCENE)
    values = truth_values(scene, ["lights.key.position", "objects.red.albedo", "lights.key.intensity"])
    assert list(values) == ["lights.key.position", "objects.red.albedo", "lights.key.intensity"]
    np.testing.assert_array_equal(values["lights.key.position"], [1.0, 1.5, -0.5])
    np.testing.assert_array_equal(values["objects.red.albedo"], [0.8, 0.15, 0.1])
    np.testing.assert_array_equal(values["lights.key.intensity"], [12, 12, 12])


def test_truth_values_name_what_the_truth_scene_lacks():
    scene = load_scene_string(TRUTH_SCENE)
    with pytest.raises(SceneError, match="no light named 'fill'"):
        truth_values(scene, ["lights.fill.position"])


def test_plotting_does_not_touch_pyplot(tmp_path):
    # In a fresh interpreter: in this one another test module may have imported pyplot already.
    code = (
        "import sys, test_plots as t\n"
        "t.plot_loss(t.COLUMNS, t.history(), sys.argv[1] + '/loss.png')\n"
        "t.plot_parameters(t.COLUMNS, t.history(), sys.argv[1] + '/params.png')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    path = os.pathsep.join([os.path.dirname(__file__)] + sys.path)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "loss.png").is_file() and (tmp_path / "params.png").is_file()
