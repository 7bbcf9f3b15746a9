"""raydiff.run.background: jobs run in order on one thread; errors come back to the caller's thread."""

from __future__ import annotations

import threading

import pytest

from raydiff.errors import OutputError
from raydiff.run.background import BackgroundWriter


def test_jobs_run_in_order_and_close_waits_for_them():
    done = []
    writer = BackgroundWriter(depth=2)
    for i in range(20):
        writer.submit(done.append, i)
    writer.close()
    assert done == list(range(20))
    writer.close()  # closing twice is allowed


def test_the_queue_is_bounded():
    gate, started, done = threading.Event(), threading.Event(), []

    def slow(i):
        started.set()
        gate.wait(5)
        done.append(i)

    writer = BackgroundWriter(depth=1)
    writer.submit(slow, 0)
    started.wait(5)  # job 0 is running; job 1 fills the queue; job 2 must wait
    writer.submit(done.append, 1)
    third = threading.Thread(target=writer.submit, args=(done.append, 2))
    third.start()
    third.join(0.2)
    assert third.is_alive() and done == []
    gate.set()
    third.join(5)
    writer.close()
    assert done == [0, 1, 2]


def test_an_error_comes_back_at_the_next_submit_and_later_jobs_still_run():
    done = []

    def fail():
        raise OutputError("frames/00010.png", "cannot write: No space left on device")

    writer = BackgroundWriter()
    writer.submit(fail)
    writer.submit(done.append, "checkpoint")  # may or may not see the error yet
    with pytest.raises(OutputError, match="No space left"):
        for _ in range(100):
            writer.submit(done.append, "frame")
    writer.close()  # the error was raised once; nothing else failed
    assert "checkpoint" in done


def test_close_raises_an_error_not_yet_seen():
    writer = BackgroundWriter()
    writer.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(print)


def test_the_context_does_not_hide_the_callers_own_error():
    with pytest.raises(KeyError):
        with BackgroundWriter() as writer:
            writer.submit(lambda: 1 / 0)
            raise KeyError("the caller's")


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        BackgroundWriter(depth=0)


def test_nice_must_be_a_priority_step():
    with pytest.raises(ValueError, match="nice"):
        BackgroundWriter(nice=20)
    with BackgroundWriter(nice=10) as writer:  # a lower priority changes nothing but when the jobs run
        done = []
        writer.submit(done.append, 1)
    assert done == [1]
