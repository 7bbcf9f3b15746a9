"""Checkpoint files: a fit's state on disk, so that an interrupted fit can continue.

A checkpoint is one ``.npz`` file holding the arrays of :meth:`raydiff.fit.Fitter.checkpoint` (iteration,
pool, optimiser state, history) and a JSON document of what the fit was (scene and reference files,
settings) under the key ``meta``. It is written atomically, so a checkpoint on disk is always whole.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from typing import Iterable

import numpy as np

from ..errors import FileError
from .files import atomic_write

VERSION = 1


class CheckpointError(FileError):
    """A checkpoint is missing, unreadable, or from another fit."""


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and the JSON-able ``meta`` to ``path`` (.npz), atomically."""
    payload = dict(arrays)
    payload["meta"] = np.array(json.dumps({"version": VERSION, **meta}))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **payload)

    atomic_write(path, write)


def load_checkpoint(path: str | os.PathLike, required: Iterable[str] = ()) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint: ``(arrays, meta)``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.
    required : iterable of str
        The arrays it must hold (:data:`raydiff.optim.fit.CHECKPOINT_ARRAYS` for a fit's).

    Raises
    ------
    CheckpointError
        If the file is missing, not a readable ``.npz`` (corrupt, truncated, or holding Python objects),
        lacks one of ``required``, or is not a raydiff checkpoint of a version this raydiff reads.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no checkpoint here (expected the output folder of an earlier `raydiff fit`)")
    unreadable = "not a readable checkpoint (a corrupt or truncated .npz file"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError:  # numpy's own words advise allow_pickle, which would run the file's code: not said here
        if zipfile.is_zipfile(path):  # a whole archive, with an array of Python objects in it
            raise CheckpointError(path, "not a readable checkpoint (it holds Python objects, which raydiff never "
                                        "loads: not written by `raydiff fit`)") from None
        raise CheckpointError(path, f"{unreadable})") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        raise CheckpointError(path, f"{unreadable})") from None
    if "meta" not in arrays:
        raise CheckpointError(path, "not a raydiff checkpoint: it has no 'meta' record of the fit")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(path, "not a raydiff checkpoint: its 'meta' record is not a JSON mapping")
    if meta.get("version") != VERSION:
        raise CheckpointError(path, f"checkpoint version {meta.get('version')} is not {VERSION}")
    missing = [name for name in required if name not in arrays]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise CheckpointError(path, f"the checkpoint lacks the array{'s' if len(missing) > 1 else ''} {names} "
                                    "(damaged, or not written by `raydiff fit`)")
    return arrays, meta
