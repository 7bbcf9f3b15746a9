"""Writing the results of a fit: the output folder, history.csv, params.json, settings.json and frames.

Everything here writes atomically: each file goes to a temporary name in its own folder and is renamed to
its final name only once it is complete, and a whole output folder is built under a hidden sibling name by
:func:`staging_dir` and renamed at the end, so an interrupted fit never leaves a half-written file or
folder under the final name. Nothing here prints; problems raise :class:`OutputError`.

The layout of a fit's folder (written by ``raydiff fit``)::

    outputs/<scene>-<YYYYmmdd-HHMMSS>/
        frames/00000.png ...   the render every few iterations (8-bit sRGB)
        history.csv            iteration, loss and every free component, one row per iteration
        params.json            the fitted values by dotted path
        fitted.yaml            the scene with the fitted values (raydiff.dump_scene)
        settings.json          the fit's settings, the backend and the timing
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .errors import OutputError
from .files import write_text
from .images import write_image

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
        (exactly the numbers that :func:`raydiff.dump_scene` writes into fitted.yaml).

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    plain = {k: [float(x) for x in np.asarray(v, dtype=np.float64).ravel()] for k, v in values.items()}
    write_json(path, plain)


def write_settings_json(
    path: str | os.PathLike,
    settings: Any,
    backend: Any,
    seconds: float,
    **extra: Any,
) -> None:
    """Write what a fit ran with: its settings, the backend and how long it took.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    settings : raydiff.FitSettings
        Written field by field under ``"settings"``.
    backend : raydiff.backend.Backend or str
        Written under ``"backend"`` (name, what was requested, what ``auto`` skipped, and its description).
    seconds : float
        Wall time of the fit; ``"ms_per_iteration"`` is derived from it.
    **extra
        More top-level entries (e.g. ``scene``, ``reference``, ``frame_every``).

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    if is_dataclass(backend):
        describe = getattr(backend, "describe", None)
        backend_data = {**asdict(backend), **({"description": describe()} if describe else {})}
    else:
        backend_data = {"name": str(backend)}
    settings_data = asdict(settings) if is_dataclass(settings) else dict(settings)
    iterations = settings_data.get("iterations") or 0
    data = {
        **extra,
        "settings": settings_data,
        "backend": backend_data,
        "seconds": float(seconds),
        "ms_per_iteration": 1000.0 * seconds / iterations if iterations else None,
    }
    write_json(path, data)


def frame_name(iteration: int) -> str:
    """The file name of an iteration's frame: ``00042.png``."""
    return f"{int(iteration):0{FRAME_DIGITS}d}.png"


def write_frame(path: str | os.PathLike, linear_image: np.ndarray) -> None:
    """Write one render as an 8-bit sRGB PNG (or JPEG, by extension), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder must exist.
    linear_image : numpy.ndarray
        (height, width, 3) linear RGB, clamped to [0, 1] before encoding.

    Raises
    ------
    OutputError
        If the file cannot be written.
    ImageError
        For an extension other than .png, .jpg or .jpeg.
    """
    write_image(path, np.asarray(linear_image))


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


def check_output_dir(path: str | os.PathLike) -> None:
    """Check that ``path`` can become a fit's output folder: it does not exist, or is an empty folder.

    Raises
    ------
    OutputError
        If ``path`` is a file, or a folder that is not empty.
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        raise OutputError(path, "exists and is not a folder; expected a new or empty folder for the output")
    try:
        entries = os.listdir(path)
    except OSError as err:
        raise OutputError(path, f"cannot read the folder: {_reason(err)}") from None
    if entries:
        count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
        raise OutputError(path, f"folder is not empty ({count}); expected a new or empty folder")


@contextlib.contextmanager
def staging_dir(final_path: str | os.PathLike) -> Iterator[str]:
    """Build a folder under a temporary sibling name and rename it to ``final_path`` on success.

    The temporary folder is ``.<name>.partial`` (or ``.<name>.partial-2`` ... if taken) next to
    ``final_path``; missing parent folders are created. If the block raises (KeyboardInterrupt included),
    the temporary folder and everything in it is removed and the exception propagates, so nothing ever
    appears under ``final_path`` half-written.

    Parameters
    ----------
    final_path : str or os.PathLike
        Where the folder should end up. It must not exist, or be an empty folder (which is replaced).

    Yields
    ------
    str
        The temporary folder to write into.

    Raises
    ------
    OutputError
        If ``final_path`` is not usable (see :func:`check_output_dir`), or the folders cannot be created
        or renamed.
    """
    final = os.path.normpath(os.fspath(final_path))
    check_output_dir(final)
    parent = os.path.dirname(os.path.abspath(final))
    name = os.path.basename(os.path.abspath(final))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise OutputError(parent, f"cannot create the folder: {_reason(err)}") from None
    partial = None
    for n in range(1, 1000):
        candidate = os.path.join(parent, f".{name}.partial" + (f"-{n}" if n > 1 else ""))
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        except OSError as err:
            raise OutputError(candidate, f"cannot create the folder: {_reason(err)}") from None
        partial = candidate
        break
    if partial is None:
        raise OutputError(final, "cannot find a free temporary name next to it (remove old .partial folders)")
    try:
        yield partial
        _rename_dir(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _rename_dir(partial: str, final: str) -> None:
    """Rename ``partial`` to ``final``; an existing empty ``final`` is replaced."""
    try:
        os.replace(partial, final)
        return
    except OSError as err:
        first = err
    # Some systems cannot rename onto an existing (empty) folder: remove it, then rename.
    try:
        if os.path.isdir(final) and not os.listdir(final):
            os.rmdir(final)
            os.replace(partial, final)
            return
    except OSError as err:
        first = err
    raise OutputError(final, f"cannot move the finished output into place: {_reason(first)}") from None
