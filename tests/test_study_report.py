"""raydiff.run.study_report: the JSON document, results.csv and report.html of a study (no device)."""

from __future__ import annotations

import csv
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from raydiff.run import study_report
from raydiff.scene.accuracy import errors

TRUTH = {"lights.key.position": np.array([1.0, 2, 1]), "lights.key.intensity": np.array([8.0, 8, 8])}


def _trial(index: int, position, intensity, seconds=1.0):
    fitted = {"lights.key.position": np.array(position, dtype=float), "lights.key.intensity": np.array(intensity, dtype=float)}
    start = {"lights.key.position": np.array([1.5, 2, 1]), "lights.key.intensity": np.array([9.0, 9, 9])}
    return SimpleNamespace(index=index, seed=100 + index, start=start, fitted=fitted, iterations=10, seconds=seconds,
                           final_loss=0.01, best_loss=0.009, best_iteration=9, halvings=0)


@pytest.fixture
def study():
    trials = [_trial(0, [1.0, 2.0, 1.01], [8, 8, 8.01]), _trial(1, [1.3, 2, 1], [8, 8, 8]),
              _trial(2, [1, 2, 1], [8, 8, float("nan")], seconds=3.0)]
    return SimpleNamespace(
        trials=trials, sigma=0.1, seed=4, settings=SimpleNamespace(iterations=10), backend="cpu", runner="process",
        workers=2, seconds=5.0, errors=[errors(t.fitted, TRUTH, 10.0) for t in trials],
        start_errors=[errors(t.start, TRUTH, 10.0) for t in trials])


def test_document(study):
    doc = study_report.study_document(study, "scene.yaml", "out", 64)
    assert doc["version"] == 1
    assert doc["success"]["count"] == 1 and doc["success"]["rate"] == pytest.approx(1 / 3)
    assert [t["success"] for t in doc["per_trial"]] == [True, False, False]
    position = doc["parameters"]["lights.key.position"]
    assert position["worst"] == pytest.approx(3.0) and position["within"] == 2 and position["goal"] == 1.0
    assert doc["per_trial"][2]["errors"]["lights.key.intensity"] is None  # NaN is null in JSON
    assert doc["seconds"]["max_trial"] == 3.0
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_files(study, tmp_path):
    doc = study_report.study_document(study, "scene.yaml", str(tmp_path), 64)
    written = study_report.write_study(tmp_path, study, doc)
    assert written == ["results.csv", "report.html"]
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [r["success"] for r in rows] == ["1", "0", "0"]
    assert float(rows[1]["error lights.key.position"]) == pytest.approx(3.0)
    assert float(rows[0]["fitted lights.key.position[2]"]) == 1.01
    page = (tmp_path / "report.html").read_text()
    assert "1 of 3" in page and 'id="errors-figure" src="data:image/png;base64,' in page
    assert not re.search(r'(src|href)="(?!data:)', page)  # self-contained
