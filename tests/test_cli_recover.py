"""``raydiff recover`` end to end on a tiny scene (24x18, 1 spp, 3 iterations a trial, 3 trials).

A study gives the same numbers however its trials run: in this process (--workers 1), in two spawned
worker processes (--workers 2) and as Ray actors (--ray local): every field of the JSON document but the
seconds and the runner's description is equal, bit for bit (the CPU backend runs deterministically, one
thread per worker). Ctrl-C ends the workers with the command.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_runner import make_runner
from processes import STUDY_SCENE, alive, busy_workers, long_study

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCENE = STUDY_SCENE
STUDY = ["--trials", "3", "--iterations", "3", "--arch", "cpu", "--seed", "5", "--json"]


def _recover(tmp_path, name: str, *options: str) -> dict:
    from raydiff_cli.main import app

    result = make_runner().invoke(app, ["recover", str(tmp_path / "scene.yaml"), *STUDY, "--out", str(tmp_path / name),
                                        *options])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _numbers(document: dict) -> dict:
    """The document without what may differ between runs: the seconds, the folder and the runner."""
    out = {k: v for k, v in document.items() if k not in ("seconds", "output", "runner", "workers")}
    out["per_trial"] = [{k: v for k, v in t.items() if k != "seconds"} for t in document["per_trial"]]
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recover")
    (folder / "scene.yaml").write_text(SCENE)
    return folder, _recover(folder, "one", "--workers", "1")


def test_document_and_files(study):
    folder, document = study
    assert document["version"] == 1 and document["trials"] == 3 and document["runner"] == "process"
    assert set(document["parameters"]) == {"lights.key.position", "lights.key.intensity"}
    assert [t["trial"] for t in document["per_trial"]] == [0, 1, 2]
    assert len({t["seed"] for t in document["per_trial"]}) == 3
    assert all(t["iterations"] == 3 for t in document["per_trial"])
    assert sorted(os.listdir(folder / "one")) == ["report.html", "results.csv", "study.json"]
    rows = list(csv.DictReader(open(folder / "one" / "results.csv")))
    assert [int(r["trial"]) for r in rows] == [0, 1, 2]
    assert json.loads((folder / "one" / "study.json").read_text())["per_trial"] == document["per_trial"]


def test_two_workers_give_the_same_numbers(study):
    folder, document = study
    two = _recover(folder, "two", "--workers", "2")
    assert two["workers"] == 2
    assert _numbers(two) == _numbers(document)


def test_ray_gives_the_same_numbers(study):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'raydiff[cluster]')")
    folder, document = study
    on_ray = _recover(folder, "ray", "--ray", "local", "--workers", "2")
    assert on_ray["runner"] == "ray" and on_ray["workers"] == 2
    assert _numbers(on_ray) == _numbers(document)


def test_without_ray_the_line_says_how_to_install_it(study, monkeypatch):
    from raydiff_cli.main import app

    folder, _ = study
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    result = make_runner().invoke(app, ["recover", str(folder / "scene.yaml"), *STUDY, "--ray", "auto",
                                        "--out", str(folder / "noray")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        'error: --ray auto: Ray is not installed; install it with: pip install "raydiff[cluster]" (or pip install "ray[default]")']
    assert not (folder / "noray").exists()


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_leaves_no_worker_behind(study):
    """Ctrl-C while both workers are busy (compiling, fitting) and ignore it: the command stops them, says
    ``interrupted``, exits with 130 and takes its folder back, within seconds (the parent sees Ctrl-C within
    ``POLL_SECONDS`` and gives a worker ``GRACE_SECONDS`` before it kills it; 60 s is for a loaded machine).

    The command starts with SIGINT ignored, as it inherits it in a background job (``cmd &`` in a script,
    ``nohup``, so a suite run that way): it must honour Ctrl-C all the same. (Before, it did not: the suite
    run in the background waited out its 180 s here while the study ran on.)"""
    folder, _ = study
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, ".pp"), ROOT, os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(long_study(str(folder / "scene.yaml"), str(folder / "stopped"), sigint_ignored=True),
                               env=env, stderr=subprocess.PIPE, start_new_session=True)
    try:
        workers: set[int] = set()

        def busy() -> bool:  # the pool's two spawned workers, both past their imports
            nonlocal workers
            workers = busy_workers(process.pid)
            return len(workers) == 2 or process.poll() is not None

        _wait_for(busy, 240, "the workers did not start")
        assert process.poll() is None, process.stderr.read().decode()
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        assert process.wait(timeout=60) == 130
        assert process.stderr.read().decode().strip().splitlines()[-1] == "interrupted"
        assert not [w for w in workers if alive(w)]  # joined before the command exits: no wait needed
        assert not (folder / "stopped").exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
