"""Tests for raydiff.outputs: the files a fit writes, written atomically, and the staged output folder."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from datetime import datetime

import numpy as np
import pytest

from raydiff.io.outputs import (
    OutputError,
    check_output_dir,
    default_output_dir,
    write_history_csv,
    write_json,
    write_params_json,
)

COLUMNS = ["iteration", "loss", "lights.key.position[0]", "lights.key.position[1]", "lights.key.position[2]"]


def no_temporaries(folder) -> bool:
    return not [name for name in os.listdir(folder) if name.startswith(".")]


def test_history_csv_has_the_header_and_one_row_per_iteration(tmp_path):
    history = np.array([[0, 0.5, 1.0, 2.0, 3.0], [1, 0.25, 1.1, 2.1, np.float32(3.1)]], dtype=np.float64)
    path = tmp_path / "history.csv"
    write_history_csv(path, COLUMNS, history)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == COLUMNS
    assert [row[0] for row in rows[1:]] == ["0", "1"]  # iterations as integers
    np.testing.assert_allclose(np.array(rows[1:], dtype=float), history, rtol=1e-8)
    # float32 values survive the text round trip exactly
    assert np.float32(float(rows[2][4])) == np.float32(3.1)
    assert no_temporaries(tmp_path)


def test_history_csv_with_no_iterations_is_just_the_header(tmp_path):
    path = tmp_path / "history.csv"
    write_history_csv(path, COLUMNS, np.zeros((0, len(COLUMNS))))
    assert path.read_text() == ",".join(COLUMNS) + "\n"


def test_history_csv_rejects_a_history_of_the_wrong_width(tmp_path):
    with pytest.raises(ValueError, match="column"):
        write_history_csv(tmp_path / "history.csv", COLUMNS, np.zeros((2, 3)))
    assert not (tmp_path / "history.csv").exists()


def test_params_json_holds_plain_floats_by_dotted_path(tmp_path):
    values = {"lights.key.position": np.array([1.0, 2.5, -0.125]), "objects.ball.albedo": np.float32([0.5, 0.25, 1])}
    path = tmp_path / "params.json"
    write_params_json(path, values)
    text = path.read_text()
    assert text.endswith("\n") and '\n  "lights.key.position": [' in text  # indent 2
    data = json.loads(text)
    assert data == {"lights.key.position": [1.0, 2.5, -0.125], "objects.ball.albedo": [0.5, 0.25, 1.0]}
    assert all(isinstance(x, float) for v in data.values() for x in v)


def test_json_turns_numpy_values_into_plain_ones_and_nan_into_null(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": np.float32(0.5), "b": np.int64(3), "c": float("nan"), "d": np.array([1, 2]), "e": (True, None)})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": 3, "c": None, "d": [1, 2], "e": [True, None]}


def test_files_are_written_readable_by_others(tmp_path):
    path = tmp_path / "params.json"
    write_params_json(path, {"lights.key.position": np.zeros(3)})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_default_output_dir_is_named_after_the_scene_and_time(tmp_path):
    now = datetime(2024, 3, 9, 7, 5, 1)
    path = default_output_dir("three_spheres", root=tmp_path, now=now)
    assert path == os.path.join(str(tmp_path), "three_spheres-20240309-070501")
    assert not os.path.exists(path)  # only named, not made
    os.mkdir(path)
    assert default_output_dir("three_spheres", root=tmp_path, now=now) == path + "-2"


def test_default_output_dir_defaults_to_outputs_and_now():
    path = default_output_dir("scene")
    assert re.fullmatch(r"outputs[/\\]scene-\d{8}-\d{6}(-\d+)?", path)


def test_a_non_empty_folder_or_a_file_is_not_an_output_folder(tmp_path):
    check_output_dir(tmp_path / "new")
    check_output_dir(tmp_path)  # empty
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        check_output_dir(tmp_path)
    with pytest.raises(OutputError, match="not a folder"):
        check_output_dir(tmp_path / "a.txt")
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_stale_lock_file_does_not_make_a_folder_non_empty(tmp_path):
    (tmp_path / ".raydiff.lock").write_text("999999\n")  # left by a fit killed with SIGKILL
    check_output_dir(tmp_path)
    assert os.listdir(tmp_path) == [".raydiff.lock"]


def test_a_folder_another_fit_runs_in_is_busy(tmp_path):
    from raydiff.io.claim import FolderBusy, claim

    with claim(tmp_path, new=True):
        with pytest.raises(FolderBusy, match=rf"another fit \(pid {os.getpid()}\) is running in this folder"):
            check_output_dir(tmp_path)


def test_a_folder_holding_a_fit_says_how_to_continue_it(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"")
    with pytest.raises(OutputError, match=f"holds a raydiff fit; continue it with --resume {re.escape(str(tmp_path))}"):
        check_output_dir(tmp_path, fit_files=("checkpoint.npz",))
