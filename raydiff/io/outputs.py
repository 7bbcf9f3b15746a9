"""The small writers behind a fit's output folder: history.csv, JSON files, frame names, the folder's name.

Every file goes through :func:`raydiff.files.write_text` (a temporary name, then a rename), so no reader
ever sees half a file. Nothing here prints; problems raise :class:`raydiff.errors.OutputError`. What a
fit's folder holds, and when each file is written, is :mod:`raydiff.rundir`'s business.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from datetime import datetime
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import OutputError
from .claim import FolderBusy, holder, other_entries
from .files import write_text

FRAME_DIGITS = 5


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain floats, ints and lists; non-finite
    floats become None (JSON has no NaN or infinity)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON (indent 2, a final newline), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    data : mapping
        Plain data; numpy numbers and arrays are converted, NaN and infinities become ``null``.

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    write_text(path, json.dumps(_plain(data), indent=2, allow_nan=False) + "\n")


def write_history_csv(path: str | os.PathLike, columns: Sequence[str], history: np.ndarray) -> None:
    """Write a fit's history as CSV: a header, then one row per iteration.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    columns : sequence of str
        The header, :attr:`raydiff.FitResult.columns`: ``iteration``, ``loss``, then one column per free
        component (``lights.key.position[0]`` ...).
    history : numpy.ndarray
        (iterations, len(columns)) as :attr:`raydiff.FitResult.history`. The ``iteration`` column is
        written as an integer, every other value with 9 significant digits (exact for float32).

    Raises
    ------
    ValueError
        If ``history`` is not ``len(columns)`` wide.
    OutputError
        If the file cannot be written.
    """
    rows = np.asarray(history, dtype=np.float64)
    if rows.size == 0:
        rows = rows.reshape(0, len(columns))
    if rows.ndim != 2 or rows.shape[1] != len(columns):
        raise ValueError(f"history has shape {rows.shape} but {len(columns)} column names were given")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [str(int(v)) if name == "iteration" else f"{v:.9g}" for name, v in zip(columns, row)]
        )
    write_text(path, buffer.getvalue())


def write_params_json(path: str | os.PathLike, values: Mapping[str, np.ndarray]) -> None:
    """Write fitted values as JSON: ``{"lights.key.position": [x, y, z], ...}`` with plain floats.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    values : mapping of str to array-like
        Values by dotted path, as :attr:`raydiff.FitResult.values`. Each is written as a list of floats
        (exactly the numbers that :func:`raydiff.dump_scene` writes into fitted.yaml), or, given as a
        string, as that string (a texture: the image file that holds it).

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    plain = {k: v if isinstance(v, str) else [float(x) for x in np.asarray(v, dtype=np.float64).ravel()]
             for k, v in values.items()}
    write_json(path, plain)


def frame_name(iteration: int) -> str:
    """The file name of an iteration's frame: ``00042.png``."""
    return f"{int(iteration):0{FRAME_DIGITS}d}.png"


def default_output_dir(scene_name: str, root: str | os.PathLike = "outputs", now: datetime | None = None) -> str:
    """The default folder for a fit's results: ``<root>/<scene_name>-<YYYYmmdd-HHMMSS>``.

    If that folder already exists (two fits in the same second), ``-2``, ``-3`` ... is appended.

    Parameters
    ----------
    scene_name : str
        The scene's name (:attr:`raydiff.scene.Scene.name`).
    root : str or os.PathLike
        The folder that holds every fit's folder (relative paths are relative to the current directory).
    now : datetime.datetime, optional
        The time stamp to use (default: the current local time).

    Returns
    -------
    str
        The path (not created).
    """
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = os.path.join(os.fspath(root), f"{scene_name}-{stamp}")
    candidate, n = base, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def check_output_dir(path: str | os.PathLike, fit_files: Sequence[str] = ()) -> None:
    """Check that ``path`` can become a fit's output folder: it does not exist, or is an empty folder (a
    lock file left by a fit that crashed does not count: :mod:`raydiff.io.claim`). Writes nothing.

    This is the early look, before anything is computed; the fit's claim on the folder
    (:func:`raydiff.io.claim.claim`) checks again, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The folder.
    fit_files : sequence of str
        Names whose presence in the folder means it holds a fit (``checkpoint.npz`` ...): the message then
        says how to continue that fit instead.

    Raises
    ------
    FolderBusy
        If another fit is running in the folder.
    OutputError
        If ``path`` is empty, a file, or a folder that is not empty.
    """
    path = os.fspath(path)
    if not path.strip():
        raise OutputError("--out", "expected a folder name, got an empty one")
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        raise OutputError(path, "exists and is not a folder; expected a new or empty folder for the output")
    pid = holder(path)
    if pid is not None:
        raise FolderBusy(path, pid if pid >= 0 else None)
    try:
        entries = other_entries(path)
    except OSError as err:
        raise OutputError(path, f"cannot read the folder: {_reason(err)}") from None
    if entries:
        count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
        if any(name in entries for name in fit_files):
            raise OutputError(path, f"folder is not empty ({count}): it holds a raydiff fit; continue it with "
                                    f"--resume {path}, or choose another --out")
        raise OutputError(path, f"folder is not empty ({count}); expected a new or empty folder")
