"""Checkpoint files: a fit's state on disk, so that an interrupted fit can continue.

A checkpoint is one ``.npz`` file holding the arrays of :meth:`raydiff.fit.Fitter.checkpoint` (iteration,
pool, optimiser state, history) and a JSON document of what the fit was (scene and reference files,
settings) under the key ``meta``. It is written atomically, so a checkpoint on disk is always whole.
"""

from __future__ import annotations

import json
import os
import zipfile

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


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint: ``(arrays, meta)``.

    Raises
    ------
    CheckpointError
        If the file is missing or not a raydiff checkpoint of a version this raydiff reads.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no checkpoint here (expected the output folder of an earlier `raydiff fit`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(path, f"not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if meta.get("version") != VERSION:
        raise CheckpointError(path, f"checkpoint version {meta.get('version')} is not {VERSION}")
    return arrays, meta
