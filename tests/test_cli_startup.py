"""Ctrl-C while ``raydiff fit`` starts up is ``interrupted``, exit code 130, no traceback, no folder.

Start-up is everything before the fit's first iteration is done: importing Taichi (seconds), reading
the inputs, building the scene on the device and compiling the kernels (tens of seconds on the CPU).
Until then there is nothing worth keeping, so a fit interrupted then takes back the folder it made. Two
real processes, started together: one gets SIGINT while it imports Taichi (seen in /proc: the library is
mapped), the other once it has claimed its folder and saved its starting checkpoint, while its kernels
compile.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from raydiff.io.images import write_image

SCENE = """\
camera: {position: [0, 1.2, 4], look_at: [0, 0.4, 0], fov: 45}
film: {width: 16, height: 12, spp: 1}
objects:
  - {name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}
lights:
  - {name: key, type: point, position: [1, 2, 1], intensity: 8}
optimize:
  lights.key.position: {}
"""
TIMEOUT = 180

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches the child through /proc")


def importing_taichi(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
            return "taichi" in f.read()
    except OSError:
        return False


def wait_for(condition, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("startup")
    (d / "scene.yaml").write_text(SCENE)
    write_image(d / "ref.png", np.full((12, 16, 3), 0.2, dtype=np.float32))
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}

    def fit(out: str, **more_env: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "raydiff_cli.main", "fit", str(d / "scene.yaml"), str(d / "ref.png"),
                                 "--arch", "cpu", "--iterations", "3", "--out", str(d / out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env, **more_env})

    # without Taichi's kernel cache the first iteration surely takes seconds, so SIGINT lands before its end
    importing, compiling = fit("importing"), fit("compiling", TI_OFFLINE_CACHE="0")
    outcomes = {}
    try:
        wait_for(lambda: importing_taichi(importing.pid), importing)
        importing.send_signal(signal.SIGINT)
        wait_for(lambda: (d / "compiling" / "checkpoint.npz").is_file(), compiling)
        compiling.send_signal(signal.SIGINT)
        for name, child in (("importing", importing), ("compiling", compiling)):
            stdout, stderr = child.communicate(timeout=TIMEOUT)
            outcomes[name] = (child.returncode, stdout, stderr)
    finally:
        for child in (importing, compiling):
            if child.poll() is None:
                child.kill()
                child.communicate()
    return d, outcomes


@pytest.mark.parametrize("moment", ["importing", "compiling"])
def test_ctrl_c_during_start_up_is_one_line_and_leaves_no_folder(interrupted, moment):
    d, outcomes = interrupted
    code, stdout, stderr = outcomes[moment]
    assert code == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1] == "interrupted", stderr
    assert all(line.startswith("fitting ") for line in lines[:-1]), stderr  # at most the progress bar, at 0
    assert stdout == ""
    assert not (d / moment).exists()
