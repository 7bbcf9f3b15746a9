"""Ctrl-C while the command is still importing its libraries (Taichi takes seconds): ``interrupted``.

This module imports nothing but the standard library, so that it is in place before the heavy imports of
:mod:`.main` start; from the command's own start on, :func:`.messages.reported_errors` takes over.

A KeyboardInterrupt raised inside Taichi's import breaks it (the native module's initialisation turns it
into an ImportError, and Taichi prints advice on installing it), so during the imports Ctrl-C is only
noted, and acted on once they are done.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Iterator

EXIT_INTERRUPTED = 130  # the shell's code for SIGINT, as :mod:`.messages` says it


def _interrupted() -> None:
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def interrupt_after_imports() -> Iterator[None]:
    """Run the block (the imports) with Ctrl-C held back; if it came, say ``interrupted`` and exit with
    130 once the block is done (or has failed because of it)."""
    seen: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        yield
    except BaseException:
        if seen:
            _interrupted()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if seen:
        _interrupted()


@contextlib.contextmanager
def interrupt_is_one_line() -> Iterator[None]:
    """Turn a KeyboardInterrupt out of the block into ``interrupted`` on stderr and exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        _interrupted()
