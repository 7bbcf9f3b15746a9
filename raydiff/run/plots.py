"""Plots of a fit's history: the loss, and every free parameter against its true value when known.

The history is :attr:`raydiff.FitResult.history` with :attr:`raydiff.FitResult.columns` (or history.csv
read back): one row per iteration, columns ``iteration``, ``loss`` and one per free component, named
``<dotted path>[<i>]`` (``lights.key.position[0]``).

matplotlib draws on its Agg canvas through :class:`matplotlib.figure.Figure` directly: pyplot is never
imported, so no global figure state is made or leaked and no display is needed. Every PNG is written
atomically.
"""

from __future__ import annotations

import math
import os
import re
from typing import Mapping, Sequence

import numpy as np

from ..errors import Location
from ..io.files import atomic_write
from ..scene.parameters import resolve
from ..scene.model import FreeParameter, Scene

DPI = 100
# x/y/z and r/g/b in the usual axis colours (red, green, blue), readable on white.
COMPONENT_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")
_COMPONENT = re.compile(r"^(?P<path>.+)\[(?P<index>\d+)\]$")


def component_labels(path: str, size: int) -> list[str]:
    """Names of a parameter's components in plots: ``x y z`` for a point or a vector, ``r g b`` for a
    colour, an intensity or an irradiance, ``[0] [1] ...`` otherwise.

    Parameters
    ----------
    path : str
        The dotted path, e.g. ``lights.key.position``, ``camera.look_at`` or ``objects.box.rotate.axis``:
        only its last part (the field's own name) matters.
    size : int
        Number of components.
    """
    field = path.rsplit(".", 1)[-1]
    if size == 3 and field in ("position", "center", "origin", "translate", "look_at", "edge1", "edge2", "scale",
                               "axis", "direction", "up"):
        return ["x", "y", "z"]
    if size == 3 and field in ("intensity", "albedo", "irradiance", "specular_reflectance", "diffuse_reflectance", "eta",
                               "k"):
        return ["r", "g", "b"]
    return [f"[{i}]" for i in range(size)]


def parameter_columns(columns: Sequence[str]) -> dict[str, list[int]]:
    """The free parameters in a history's columns, in order: dotted path -> its column indices.

    Parameters
    ----------
    columns : sequence of str
        ``["iteration", "loss", "lights.key.position[0]", ...]``.

    Returns
    -------
    dict
        E.g. ``{"lights.key.position": [2, 3, 4]}`` (component order as in the columns' ``[i]``).
    """
    found: dict[str, list[tuple[int, int]]] = {}
    for column_index, name in enumerate(columns):
        match = _COMPONENT.match(str(name))
        if match:
            found.setdefault(match["path"], []).append((int(match["index"]), column_index))
    return {path: [c for _, c in sorted(items)] for path, items in found.items()}


def _check_history(columns: Sequence[str], history) -> np.ndarray:
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 2 or history.shape[1] != len(columns):
        raise ValueError(f"history of shape {history.shape} does not match the {len(columns)} columns")
    for required in ("iteration", "loss"):
        if required not in columns:
            raise ValueError(f"the columns have no '{required}' column")
    return history


def _plain_text(text: str) -> str:
    """Text that matplotlib draws literally (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def warm_up() -> None:
    """Import what the plots need (matplotlib takes about a second), so that the first plot does not wait.

    A fit's command calls it in its background writer while the fit runs (:mod:`raydiff.run.background`).
    """
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import matplotlib.lines  # noqa: F401
    import matplotlib.ticker  # noqa: F401


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | os.PathLike) -> None:
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=DPI, facecolor="white"))


def plot_loss(columns: Sequence[str], history, path: str | os.PathLike) -> None:
    """Plot the loss against the iteration (log-scale y) and write it as a PNG, atomically.

    Parameters
    ----------
    columns : sequence of str
        The history's column names; ``iteration`` and ``loss`` must be among them.
    history : array_like
        (iterations, len(columns)) rows. Losses that are zero, negative or not finite cannot be shown
        on a log scale and are left out; with no row (or no positive loss) the plot says so.
    path : str or os.PathLike
        The PNG to write; its folder must exist.

    Raises
    ------
    ValueError
        If ``history`` does not match ``columns``.
    OutputError
        If the file cannot be written.
    """
    from matplotlib.ticker import MaxNLocator

    history = _check_history(columns, history)
    x = history[:, list(columns).index("iteration")]
    loss = history[:, list(columns).index("loss")]
    shown = np.isfinite(loss) & (loss > 0) & np.isfinite(x)

    figure = _figure(7.0, 4.0)
    axes = figure.add_subplot()
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss")
    axes.set_title("loss")
    axes.grid(True, which="both", alpha=0.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if shown.any():
        axes.plot(x[shown], loss[shown], color="#1f77b4", linewidth=1.5)
        axes.set_yscale("log")
        if shown.sum() == 1:
            axes.plot(x[shown], loss[shown], "o", color="#1f77b4")
    else:
        axes.text(0.5, 0.5, "no positive loss to show", ha="center", va="center", transform=axes.transAxes)
    _save(figure, path)


def plot_parameters(
    columns: Sequence[str],
    history,
    path: str | os.PathLike,
    truth: Mapping[str, np.ndarray] | None = None,
    start_row: int = 0,
) -> None:
    """Plot every free parameter's components against the iteration, one subplot per parameter, and
    write it as a PNG, atomically.

    Parameters
    ----------
    columns : sequence of str
        The history's column names (``iteration``, ``loss``, ``<path>[<i>]`` ...).
    history : array_like
        (iterations, len(columns)) rows.
    path : str or os.PathLike
        The PNG to write; its folder must exist.
    truth : mapping, optional
        True values by dotted path (e.g. from :func:`truth_values`); each one present is drawn as a
        dashed horizontal line per component, in that component's colour. Paths not in the history are
        ignored.
    start_row : int
        Plot from this row on (to look past the first iterations' large moves).

    Raises
    ------
    ValueError
        If ``history`` does not match ``columns``, the columns name no free parameter, ``start_row`` is
        negative, or a true value has the wrong number of components.
    OutputError
        If the file cannot be written.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    history = _check_history(columns, history)
    if int(start_row) < 0:
        raise ValueError(f"start_row must be >= 0, got {start_row}")
    groups = parameter_columns(columns)
    if not groups:
        raise ValueError("the columns name no free parameter (expected names like 'lights.key.position[0]')")
    truth = dict(truth or {})
    rows = history[int(start_row) :]
    x = rows[:, list(columns).index("iteration")]

    n = len(groups)
    ncols = 1 if n <= 3 else 2
    nrows = math.ceil(n / ncols)
    figure = _figure(7.0 if ncols == 1 else 11.0, 0.6 + 2.4 * nrows)
    all_axes = figure.subplots(nrows, ncols, squeeze=False)
    for axes in all_axes.ravel()[n:]:
        axes.set_visible(False)

    for axes, (name, indices) in zip(all_axes.ravel(), groups.items()):
        labels = component_labels(name, len(indices))
        expected = None
        if name in truth and truth[name] is not None:
            expected = np.asarray(truth[name], dtype=np.float64).ravel()
            if expected.size != len(indices):
                raise ValueError(f"truth for '{name}' has {expected.size} components, the history {len(indices)}")
        handles = []
        for i, (column, label) in enumerate(zip(indices, labels)):
            colour = COMPONENT_COLOURS[i % len(COMPONENT_COLOURS)] if len(indices) <= 3 else None
            line = axes.plot(x, rows[:, column], color=colour, linewidth=1.5, label=label)[0]
            handles.append(line)
            if len(rows) == 1:
                axes.plot(x, rows[:, column], "o", color=line.get_color())
            if expected is not None:
                axes.axhline(expected[i], color=line.get_color(), linestyle="--", linewidth=1.2, alpha=0.8)
        if expected is not None:
            handles.append(Line2D([], [], color="#555555", linestyle="--", linewidth=1.2, label="true value"))
        axes.set_title(_plain_text(name), fontsize=10)
        axes.grid(True, alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        # beside the plot, so it never hides a curve
        axes.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        if not len(rows):
            axes.text(0.5, 0.5, "no iterations", ha="center", va="center", transform=axes.transAxes)
    for j, axes in enumerate(all_axes.ravel()[:n]):
        if j + ncols >= n:  # the lowest plot of its column
            axes.set_xlabel("iteration")
    _save(figure, path)


def truth_values(truth_scene: Scene, paths: Sequence[str]) -> dict[str, np.ndarray]:
    """The true values of free parameters, read from a scene that has them (e.g. the one the reference
    was rendered from).

    Parameters
    ----------
    truth_scene : raydiff.scene.Scene
        The scene to read (its ``optimize`` section is not used).
    paths : sequence of str
        Dotted paths as the fit's scene writes them (``lights.<name>.<field>``, ``objects.<name>.<field>``,
        ``camera.<field>`` or ``cameras.<name>.<field>``, a field possibly nested: ``rotate.angle``); the
        truth scene must lay out its cameras the same way (one ``camera:``, or ``cameras:``).

    Returns
    -------
    dict
        Path -> float64 array of the parameter's components, in the order of ``paths``.

    Raises
    ------
    SceneError
        If a path is malformed, or names a camera, light, object or field the truth scene does not have.
    """
    values = {}
    for path in paths:
        resolved = resolve(truth_scene, FreeParameter(str(path)), Location(truth_scene.source, str(path)))
        values[str(path)] = np.array(resolved.start, dtype=np.float64)
    return values
