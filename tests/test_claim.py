"""raydiff.io.claim: one fit per output folder.

The claim is a flock on ``.raydiff.lock``; flock locks belong to open files, not processes, so a second
claim from this same process conflicts with the first just as another process's would. The races are run
with real processes all the same (they start at one moment, behind a barrier), and a process killed with
SIGKILL shows that its lock goes with it.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal

import pytest

from raydiff.errors import OutputError
from raydiff.io import claim as claims
from raydiff.io.claim import LOCK, FolderBusy, claim, holder


def test_a_claim_makes_the_folder_records_the_pid_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "a" / "run"
    with claim(out, new=True) as held:
        assert held.created and held.exclusive and held.held
        assert os.listdir(out) == [LOCK]
        assert (out / LOCK).read_text() == f"{os.getpid()}\n"
        assert holder(out) == os.getpid()
    assert os.listdir(out) == [] and holder(out) is None


def test_a_second_claim_is_refused_naming_the_pid_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    with claim(out, new=True):
        (out / "frames").mkdir()
        before = sorted(os.listdir(out)), os.stat(out).st_mtime_ns
        for new in (True, False):
            with pytest.raises(FolderBusy) as refused:
                claim(out, new=new)
            assert refused.value.pid == os.getpid()
            assert f"another fit (pid {os.getpid()}) is running in this folder" in str(refused.value)
        assert (sorted(os.listdir(out)), os.stat(out).st_mtime_ns) == before


def test_a_new_fit_refuses_a_folder_with_something_in_it_before_making_the_lock(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"folder is not empty \(1 entry\)"):
        claim(tmp_path, new=True)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_must_create_refuses_an_existing_folder(tmp_path):
    with pytest.raises(FileExistsError):
        claim(tmp_path, new=True, must_create=True)
    assert os.listdir(tmp_path) == []


def test_resuming_needs_the_folder(tmp_path):
    with pytest.raises(OutputError, match="no such folder"):
        claim(tmp_path / "gone", new=False)


def test_a_stale_lock_file_does_not_count_and_is_taken_over(tmp_path):
    (tmp_path / LOCK).write_text("999999\n")  # left by a fit that was killed
    assert holder(tmp_path) is None
    with claim(tmp_path, new=True) as held:
        assert not held.created and (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
    assert os.listdir(tmp_path) == []


def test_abandon_takes_back_what_the_fit_wrote_and_the_folder_it_made(tmp_path):
    out = tmp_path / "run"
    held = claim(out, new=True)
    (out / "checkpoint.npz").write_bytes(b"start")
    held.abandon(["checkpoint.npz"])
    assert not out.exists()
    tmp_path.joinpath("kept").mkdir()
    held = claim(tmp_path / "kept", new=True)
    held.abandon()
    assert (tmp_path / "kept").is_dir()  # the user's folder stays


def test_a_folder_that_cannot_be_written_is_one_error(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(LOCK) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(claims.os, "open", read_only)
    with pytest.raises(OutputError, match="cannot write in the folder .*: Permission denied"):
        claim(tmp_path, new=False)
    with pytest.raises(OutputError, match="Permission denied"):
        claim(tmp_path / "new", new=True)
    assert os.listdir(tmp_path) == []  # the folder the refused claim made is gone


def test_without_flock_the_pid_in_the_lock_file_claims_the_folder(tmp_path, monkeypatch):
    def unsupported(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(claims.fcntl, "flock", unsupported)
    with claim(tmp_path, new=True) as held:
        assert not held.exclusive and "cannot lock files (No locks available)" in held.reason
        assert holder(tmp_path) is None  # our own pid: not another fit
    parent = os.getppid()  # alive
    (tmp_path / LOCK).write_text(f"{parent}\n")
    assert holder(tmp_path) == parent
    with pytest.raises(FolderBusy, match=f"pid {parent}.*remove .*{LOCK}"):
        claim(tmp_path, new=True)


# --- real processes ----------------------------------------------------------------------------------


def _race(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        held = claim(path, new=True)
    except FolderBusy:
        results.put("busy")
        return
    except OutputError as err:  # the winner's folder, already released and refilled: not empty
        results.put(f"refused: {err}")
        return
    results.put("claimed")
    barrier.wait()  # hold it until every contender has tried
    held.release()


def test_processes_started_at_one_moment_get_the_folder_once(tmp_path):
    context = multiprocessing.get_context("fork")
    n = 6
    barrier, results = context.Barrier(n), context.Queue()
    out = str(tmp_path / "run")
    workers = [context.Process(target=_race, args=(out, barrier, results)) for _ in range(n)]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=60) for _ in range(n))
    barrier.abort()  # the losers never reach the second wait
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == ["busy"] * (n - 1) + ["claimed"], outcomes


def _hold_forever(path: str, ready) -> None:
    claim(path, new=True)
    ready.set()
    signal.pause()


def test_a_claim_dies_with_its_process(tmp_path):
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    out = str(tmp_path / "run")
    worker = context.Process(target=_hold_forever, args=(out, ready))
    worker.start()
    assert ready.wait(60)
    assert holder(out) == worker.pid
    with pytest.raises(FolderBusy):
        claim(out, new=False)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(60)
    assert holder(out) is None  # the lock file is still there, but nobody holds it
    assert os.listdir(out) == [LOCK]
    with claim(out, new=False) as held:
        assert held.exclusive
