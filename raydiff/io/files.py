"""Writing files so that a reader never sees half of one: a temporary name beside the target, then a rename.

Every file raydiff writes (images, frames, CSV, JSON, YAML) goes through :func:`atomic_write`, so an
interrupted run leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Callable

from ..errors import OutputError

FILE_MODE = 0o644  # what a plain open() would give under the usual umask; mkstemp makes 0o600


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` for a temporary file next to ``path``, then rename it to ``path``.

    An existing file keeps its permission bits; a new one gets ``FILE_MODE``.

    Raises
    ------
    OutputError
        If the temporary file cannot be made, written or renamed (the temporary file is removed).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    try:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else FILE_MODE
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp" + os.path.splitext(base)[1], dir=directory)
        os.close(fd)
    except OSError as err:
        raise OutputError(path, f"cannot write: {_reason(err)}") from None
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise OutputError(path, f"cannot write: {_reason(err)}") from None
    except BaseException:
        _remove(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    atomic_write(path, write)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
