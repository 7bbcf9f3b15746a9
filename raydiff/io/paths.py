"""Is an input path a file that can be read? The precise reason when it is not, checked before opening.

Every input file raydiff reads (scene, reference, true scene, mesh) goes through :func:`file_problem` or
:func:`read_regular_file` first, so that a folder, a named pipe, a symbolic link loop or a dangling link
is named as what it is instead of "no such file", and so that a named pipe given as an input can never
make a run wait forever on ``open`` (opening a FIFO blocks until something writes into it).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Callable

from ..errors import RaydiffError


@dataclass(frozen=True)
class Problem:
    """Why a path is not a readable regular file.

    Parameters
    ----------
    reason : str
        In a few words, e.g. ``"no such file"``, ``"is a folder"``, ``"symbolic link loop"``.
    wrong_kind : bool
        True when something is there but it is not a regular file (a folder, a pipe, a device ...).
    """

    reason: str
    wrong_kind: bool = False


_KINDS = (
    (stat.S_ISDIR, "is a folder"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
    (stat.S_ISCHR, "is a character device, not a file"),
    (stat.S_ISBLK, "is a block device, not a file"),
)


def _kind_problem(mode: int) -> Problem | None:
    for test, reason in _KINDS:
        if test(mode):
            return Problem(reason, wrong_kind=True)
    if not stat.S_ISREG(mode):
        return Problem("is not a regular file", wrong_kind=True)
    return None


def _missing(path: str, err: OSError) -> Problem:
    """The reason for a failed ``os.stat``: a dangling link and a loop are told apart from a missing file."""
    if err.errno == errno.ELOOP:
        return Problem("symbolic link loop")
    if err.errno == errno.ENOENT:
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return Problem(f"broken symbolic link to '{target}' (which does not exist)")
        return Problem("no such file")
    if err.errno == errno.ENOTDIR:
        return Problem("a part of the path before the file name is not a folder")
    if err.errno == errno.EACCES:
        return Problem("permission denied (on a folder of the path)")
    if err.errno == errno.ENAMETOOLONG:
        return Problem("file name too long")
    return Problem((err.strerror or str(err)).lower())


def file_problem(path: str | os.PathLike) -> Problem | None:
    """Why ``path`` is not a regular file this process may read, or None if it is one.

    Symbolic links are followed. Nothing is opened, so a named pipe is reported, not waited on.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Problem or None
    """
    try:
        info = os.stat(path)
    except ValueError:  # an embedded NUL character
        return Problem("the name contains a NUL character")
    except OSError as err:
        return _missing(os.fspath(path), err)
    problem = _kind_problem(info.st_mode)
    if problem is not None:
        return problem
    if not os.access(path, os.R_OK):
        return Problem("permission denied")
    return None


def require_regular_file(path: str | os.PathLike, error: Callable[[Problem], RaydiffError]) -> None:
    """Raise ``error(problem)`` unless ``path`` is a regular file this process may read.

    Parameters
    ----------
    path : str or os.PathLike
    error : callable
        Makes the error to raise from the :class:`Problem`; it names the file and what it should be.

    Raises
    ------
    RaydiffError
        Whatever ``error`` returns, when there is a problem.
    """
    problem = file_problem(path)
    if problem is not None:
        raise error(problem)


def read_regular_file(path: str | os.PathLike, error: Callable[[Problem], RaydiffError],
                      limit: int | None = None) -> bytes:
    """The bytes of ``path``, a regular file (at most ``limit`` of them, if given); ``error(problem)`` is
    raised otherwise.

    The file is opened without blocking and checked again once open, so that a file swapped for a named
    pipe between the check and the ``open`` is still refused rather than waited on.

    Raises
    ------
    RaydiffError
        Whatever ``error`` returns: the path is not a readable regular file, or reading it failed.
    """
    require_regular_file(path, error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise error(_missing(os.fspath(path), err) if err.errno != errno.EACCES else Problem("permission denied")) from None
    try:
        problem = _kind_problem(os.fstat(fd).st_mode)
        if problem is not None:
            raise error(problem)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read() if limit is None else f.read(limit)
    except OSError as err:
        raise error(Problem((err.strerror or str(err)).lower())) from None
    finally:
        os.close(fd)
