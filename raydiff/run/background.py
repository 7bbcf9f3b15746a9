"""Writing a fit's frames and checkpoints in a background thread, so that the fit does not wait for them.

The caller reads the device (the render, the fit's state) on its own thread, as numpy arrays, and hands
them to :meth:`BackgroundWriter.submit` with the function that writes them; one thread runs those jobs in
the order given. The queue is bounded: when ``depth`` jobs are waiting, ``submit`` waits for one to finish,
so that a fit faster than its disk never holds more than ``depth`` frames in memory. Every job is still
an atomic write (:func:`raydiff.io.files.atomic_write`), so a file on disk is whole or absent.

A fit's writer runs at a lower priority (on Linux, where a thread has its own), so that on a machine
whose every core the fit's kernels keep busy the writing takes mostly the time they leave idle.

A job that fails does not stop the others (each later frame and checkpoint is still tried: no file is
lost that could be written); its error is raised on the caller's thread, by the next ``submit`` or by
:meth:`~BackgroundWriter.close`, which waits for every job and is what a caller does before it reads
what was written, or gives its folder up.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable


class BackgroundWriter:
    """One thread that runs write jobs in order.

    Parameters
    ----------
    depth : int, optional
        How many jobs may wait (>= 1) before :meth:`submit` waits for the thread.
    nice : int, optional
        How much lower than the process's the thread's CPU priority is (0 to 19; Linux only, else
        ignored). A fit's writer takes 5: it yields to the fit's kernels, which run at the process's,
        but is not starved by other programs on a busy machine (at 19 it was: the fit, waiting for its
        queue, waited for them; at 5 its share against a busy core is about a third).
    """

    def __init__(self, depth: int = 2, nice: int = 0):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if not 0 <= nice <= 19:
            raise ValueError(f"nice must be in 0 .. 19, not {nice}")
        self._nice = nice
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="raydiff-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        if self._nice:
            _lower_priority(self._nice)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args, kwargs = job
            try:
                function(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 (handed to the caller's thread)
                if self._error is None:
                    self._error = err

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``function(*args, **kwargs)`` after the jobs before it.

        The arguments must not change afterwards (hand over copies: numpy arrays read from the device are).

        Raises
        ------
        Exception
            The first error of a job that has failed so far (the fit stops as if it had written the file
            itself); RuntimeError after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("the writer is closed")
        self.raise_error()
        self._jobs.put((function, args, kwargs))

    def raise_error(self) -> None:
        """Raise the first error of a job that has failed, if any (once)."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self, raise_error: bool = True) -> None:
        """Wait for every job submitted; then raise the first error of one that failed (unless
        ``raise_error`` is False, for a caller that is already handling an error of its own). Closing
        twice is allowed."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)
            self._thread.join()
        if raise_error:
            self.raise_error()

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(raise_error=kind is None)


def _lower_priority(nice: int) -> None:
    """Lower this thread's CPU priority by ``nice``, where the system lets a thread have its own (Linux)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except (AttributeError, OSError):  # not Linux, or not allowed: the thread runs at the process's priority
        pass
