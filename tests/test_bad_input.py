"""Every bad input in ``tests/bad_inputs.py`` ends in one error line, exit code 1 and nothing written.

For each case: set it up in an empty folder, snapshot the folder, run the command (in that folder, with
Typer's test runner) and check

* the exit code: 1, or the case's own (2 for Typer's usage errors);
* exactly one non-empty line on stderr, starting with ``error:`` and containing every fragment, and
  nothing on stdout (for Typer's usage errors: the fragments in the framed message);
* no traceback, and no exception other than the exit;
* the folder unchanged: nothing new, nothing removed, nothing modified.

Every case fails during validation, before Taichi renders anything, so the table runs in seconds. The few
cases marked with a known ``bug`` are expected to fail (strictly: a fix shows up as an unexpected pass).

``test_the_process_writes_one_line`` runs a few of the cases as a real process, where native libraries
(Taichi, OpenEXR, Pillow) could print to the process's stderr behind Python's back.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from bad_inputs import CASES, Case, NotApplicable, clean_up, run, snapshot


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.fixture
def folder(tmp_path):
    """An empty folder for one case; afterwards every permission a setup took away is given back."""
    path = tmp_path / "case"
    path.mkdir()
    yield path
    clean_up(path)


def _set_up(case: Case, folder):
    try:
        return case.setup(folder)
    except NotApplicable as reason:
        pytest.skip(str(reason))


def test_the_ids_are_unique_and_every_case_says_what_it_checks():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for case in CASES:
        assert case.description and case.fragments, case.id
        assert case.exit_code in (1, 2), case.id


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case: Case, folder):
    argv = _set_up(case, folder)
    before = snapshot(folder)
    outcome = run(argv, cwd=folder, env=case.env)
    after = snapshot(folder)

    assert not outcome.traceback, f"raydiff {' '.join(argv)} crashed:\n{outcome.traceback}"
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.exit_code == case.exit_code, (outcome.stdout, outcome.stderr)
    if case.exit_code == 1:
        lines = outcome.error_lines
        assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{outcome.stderr}"
        line = lines[0]
        assert line.startswith("error: "), line
        assert outcome.stdout == "", outcome.stdout
    else:
        line = outcome.usage_message
    missing = [fragment for fragment in case.fragments if fragment not in line]
    assert not missing, f"{missing} not in: {line}"
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert (new, gone, changed) == ([], [], []), f"new {new}, removed {gone}, changed {changed}"


# A few cases as a real process: what native code prints to file descriptor 2 shows up only there.
NATIVE = ["ref-exr-corrupt", "ref-truncated", "backend-unavailable", "mesh-bad-line"]


@pytest.mark.parametrize("case", [_param(case) for case in CASES if case.id in NATIVE])
def test_the_process_writes_one_line(case: Case, folder):
    argv = _set_up(case, folder)
    before = snapshot(folder)
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "raydiff_cli.main", *argv], cwd=folder, env=env,
                          check=False, capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == case.exit_code, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert all(fragment in lines[0] for fragment in case.fragments), lines[0]
    assert done.stdout == ""
    assert snapshot(folder) == before
