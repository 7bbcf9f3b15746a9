"""Tests for raydiff.io.paths: why an input path is not a readable file, told precisely and without waiting."""

from __future__ import annotations

import os

import pytest

from raydiff.errors import FileError
from raydiff.io.paths import Problem, file_problem, read_regular_file, require_regular_file


def _error(problem: Problem) -> FileError:
    return FileError("input", problem.reason)


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_bytes(b"hello\n")
    return path


def test_a_regular_file_has_no_problem_and_reads(plain):
    assert file_problem(plain) is None
    require_regular_file(plain, _error)
    assert read_regular_file(str(plain), _error) == b"hello\n"


def test_a_link_to_a_regular_file_is_fine(tmp_path, plain):
    os.symlink(plain, tmp_path / "link.txt")
    assert read_regular_file(tmp_path / "link.txt", _error) == b"hello\n"


@pytest.mark.parametrize(
    ("make", "reason", "wrong_kind"),
    [
        (lambda d: d / "nothere", "no such file", False),
        (lambda d: (d / "folder").mkdir() or d / "folder", "is a folder", True),
        (lambda d: os.mkfifo(d / "pipe") or d / "pipe", "is a named pipe (FIFO), not a file", True),
        (lambda d: os.symlink("gone", d / "dangling") or d / "dangling", "broken symbolic link to 'gone' (which does not exist)", False),
        (lambda d: (os.symlink("b", d / "a"), os.symlink("a", d / "b")) and d / "a", "symbolic link loop", False),
        (lambda d: (d / "f").write_text("x") and d / "f" / "inside", "a part of the path before the file name is not a folder", False),
        (lambda d: str(d / "nul\0name"), "the name contains a NUL character", False),
        (lambda d: "/dev/null", "is a character device, not a file", True),
    ],
    ids=["missing", "folder", "fifo", "dangling-link", "link-loop", "under-a-file", "nul", "device"],
)
def test_the_reason_names_what_is_there(tmp_path, make, reason, wrong_kind):
    path = make(tmp_path)
    assert file_problem(path) == Problem(reason, wrong_kind)
    with pytest.raises(FileError, match="input: ") as info:
        read_regular_file(path, _error)  # a named pipe is refused, not waited on
    assert info.value.message == reason


def test_a_file_this_user_may_not_read(plain, monkeypatch):
    """As root a mode-000 file reads all the same, so access() is made to answer as for another user."""
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    assert file_problem(plain) == Problem("permission denied")
