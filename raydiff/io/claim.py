"""One fit per output folder: a fit claims its folder before it writes into it, and holds it to the end.

The claim is an exclusive lock (``fcntl.flock``) on the hidden file ``.raydiff.lock`` inside the folder,
which records the claiming process's id. The kernel drops the lock when that process ends, however it
ends (``kill -9`` too), so a lock file left behind by a crashed fit never blocks: the next fit takes it
over. A fit that ends normally removes the file again.

Taking a claim is atomic: the folder is created (if missing), the lock is taken, and only then is the
folder checked to hold nothing else, so two fits started at the same moment cannot both pass that check.
A refused claim writes nothing into a folder that already held something.

Where the file system cannot lock files (some network file systems), the claim falls back to the process
id in the lock file (a live process there holds the folder) and says so (:attr:`Claim.exclusive` is
False): two fits started within the same instant could then both pass.

Nothing here prints; problems raise :class:`raydiff.errors.OutputError` (:class:`FolderBusy` when another
fit holds the folder).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from typing import Iterable

from ..errors import OutputError

LOCK = ".raydiff.lock"

# flock's answers on a file system that cannot lock: no locks (NFS without lockd), not supported
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}


class FolderBusy(OutputError):
    """Another fit holds the folder.

    Attributes
    ----------
    pid : int or None
        The process id of that fit, when its lock file records it.
    """

    def __init__(self, folder: str, pid: int | None, exclusive: bool = True, new: bool = True):
        self.pid = pid
        who = f"another fit (pid {pid})" if pid is not None else "another fit"
        advice = "wait for it to end" + (", or choose another --out" if new else "")
        if not exclusive:  # a recorded pid, not a lock: it may be a stale record of a reused pid
            advice += f" (if no fit is running there, remove {os.path.join(folder, LOCK)})"
        super().__init__(folder, f"{who} is running in this folder: {advice}")


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def lock_path(folder: str | os.PathLike) -> str:
    """The lock file of ``folder``."""
    return os.path.join(os.fspath(folder), LOCK)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def holder(folder: str | os.PathLike) -> int | None:
    """The process id of the fit that holds ``folder`` now (-1 if its lock file records none), or None
    if no fit does (no lock file, or a stale one). Writes nothing."""
    path = lock_path(folder)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # no lock file (or unreadable: the claim itself will say)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            return pid if pid is not None else -1
        except OSError as err:
            if err.errno not in _UNSUPPORTED:
                return None
            pid = _read_pid(fd)
            return pid if _alive(pid) else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def other_entries(folder: str | os.PathLike) -> list[str]:
    """The entries of ``folder`` other than its lock file, sorted."""
    return sorted(name for name in os.listdir(folder) if name != LOCK)


class Claim:
    """A fit's hold on its output folder; :meth:`release` (or leaving the ``with`` block) gives it up.

    Attributes
    ----------
    path : str
        The folder.
    created : bool
        Whether the claim made the folder.
    exclusive : bool
        False where the file system could not lock the file (see the module's notes).
    reason : str
        Why not, when ``exclusive`` is False ('' otherwise).
    """

    def __init__(self, path: str, fd: int, created: bool, exclusive: bool, reason: str = ""):
        self.path, self._fd, self.created, self.exclusive, self.reason = path, fd, created, exclusive, reason

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give up the folder: remove the lock file (while still holding it), then unlock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if _same_file(fd, lock_path(self.path)):
                os.unlink(lock_path(self.path))
        os.close(fd)  # closing the last descriptor drops the lock

    def abandon(self, written: Iterable[str] = ()) -> None:
        """Release the folder and take back what this fit put there: the files named in ``written``
        (relative to the folder), and the folder itself if the claim made it and it is empty now."""
        for name in written:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.path, name))
        self.release()
        if self.created:
            with contextlib.suppress(OSError):
                os.rmdir(self.path)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a releasing fit may have just removed it)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _not_empty(path: str, entries: list[str]) -> OutputError:
    count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    return OutputError(path, f"folder is not empty ({count}); expected a new or empty folder")


def claim(path: str | os.PathLike, new: bool, must_create: bool = False) -> Claim:
    """Claim ``path`` for one fit.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder.
    new : bool
        True for a new fit: the folder is created if missing (its parents too) and must hold nothing but a
        stale lock file. False to continue the fit in an existing folder (``--resume``).
    must_create : bool
        With ``new``: the folder must not exist yet (:class:`FileExistsError` if it does, before anything
        is written), for a folder name that is chosen automatically.

    Returns
    -------
    Claim

    Raises
    ------
    FolderBusy
        If another fit holds the folder.
    OutputError
        If the folder cannot be made or written, or (``new``) holds something already.
    """
    path = os.fspath(path)
    created = False
    try:
        if new:
            try:
                os.makedirs(path)  # FileExistsError only if the folder itself is there already
                created = True
            except FileExistsError:
                if must_create:
                    raise
                if not os.path.isdir(path):
                    raise OutputError(path, "exists and is not a folder; expected a new or empty folder for the output") from None
                entries = other_entries(path)
                if entries:  # refused before the lock file is made: nothing written
                    pid = holder(path)
                    if pid is not None:
                        raise FolderBusy(path, pid if pid >= 0 else None) from None
                    raise _not_empty(path, entries) from None
        elif not os.path.isdir(path):
            raise OutputError(path, "no such folder (expected the output folder of an earlier `raydiff fit`)")
    except OSError as err:
        if isinstance(err, FileExistsError) and must_create:
            raise
        raise OutputError(path, f"cannot make the folder: {_reason(err)}") from None

    fd, exclusive, reason, made_lock = None, True, "", False
    try:
        for _ in range(5):  # retried only while a releasing fit removes the file under us
            try:
                made_lock = not os.path.lexists(lock_path(path))
                fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise OutputError(path, f"cannot write in the folder (to claim it for this fit): {_reason(err)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                raise FolderBusy(path, pid, new=new) from None
            except OSError as err:
                if err.errno not in _UNSUPPORTED:
                    raise OutputError(path, f"cannot lock {LOCK}: {_reason(err)}") from None
                pid = _read_pid(fd)
                if _alive(pid):
                    raise FolderBusy(path, pid, exclusive=False, new=new) from None
                exclusive, reason = False, f"the file system cannot lock files ({_reason(err)})"
            if _same_file(fd, lock_path(path)):
                break
            os.close(fd)
            fd = None
        if fd is None:
            raise FolderBusy(path, None, new=new)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        result = Claim(path, fd, created, exclusive, reason)
        fd = None  # the claim owns it now
        if new:
            entries = other_entries(path)
            if entries:  # something arrived between the first look and the lock
                result.abandon()
                raise _not_empty(path, entries)
        return result
    except BaseException as exc:
        if fd is not None:
            if made_lock and not isinstance(exc, FolderBusy):  # ours, and nobody else's: take it back
                with contextlib.suppress(OSError):
                    os.unlink(lock_path(path))
            os.close(fd)
        if created:  # a lock file left in it is another fit's, which then keeps the folder
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise
