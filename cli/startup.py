"""Ctrl-C while the command is still importing its libraries (Taichi takes seconds): ``interrupted``.

This module imports nothing but the standard library, so that it is in place before the heavy imports of
:mod:`.main` start; from the command's own start on, :func:`.messages.reported_errors` takes over.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

EXIT_INTERRUPTED = 130  # the shell's code for SIGINT, as :mod:`.messages` says it


@contextlib.contextmanager
def interrupt_is_one_line() -> Iterator[None]:
    """Turn a KeyboardInterrupt inside the block into ``interrupted`` on stderr and exit code 130 (instead
    of a traceback through the import machinery)."""
    try:
        yield
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_INTERRUPTED) from None
