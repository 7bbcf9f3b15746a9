"""``raydiff fit``: fit a scene's free parameters to a reference picture, and save what happened.

Everything that can be wrong with the inputs is checked before anything is written: the scene, the
reference, the ``optimize`` section, the backend and the output folder. The output folder is built under a
hidden temporary name next to its final one and renamed at the end, so an error or Ctrl-C never leaves a
half-written folder behind.
"""

from __future__ import annotations

import math
import os
from enum import Enum
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import raydiff
from raydiff.backend import Backend
from raydiff.outputs import (
    check_output_dir,
    default_output_dir,
    frame_name,
    staging_dir,
    write_frame,
    write_history_csv,
    write_params_json,
    write_settings_json,
)

from .messages import ARCH_HELP, Arch, fail, reported_errors


class Loss(str, Enum):
    """The image losses ``--loss`` accepts."""

    mse = "mse"
    l1 = "l1"


# FitSettings names its fields in its messages; the user typed options.
_OPTION_OF_FIELD = {"iterations": "--iterations", "lr": "--lr", "lr_decay": "--lr-decay", "spp": "--spp"}


def _settings(iterations: int, lr: float | None, lr_decay: float, spp: int | None, seed: int, loss: Loss):
    """The FitSettings, or an error line naming the offending option."""
    try:
        return raydiff.FitSettings(iterations=iterations, lr=lr, lr_decay=lr_decay, spp=spp, seed=seed, loss=loss.value)
    except ValueError as err:
        message = str(err)
        field, _, rest = message.partition(" ")
        fail(f"{_OPTION_OF_FIELD[field]} {rest}" if field in _OPTION_OF_FIELD and rest else message)


def _require_optimize(scene) -> None:
    """A scene without ``optimize`` entries has nothing to fit."""
    if not scene.optimize:
        example = f"lights.{scene.lights[0].name}.position: {{}}" if scene.lights else "lights.<name>.position: {}"
        raise raydiff.SceneError(
            raydiff.Location(scene.source, "optimize"),
            f"nothing to fit: add an 'optimize' section naming the free parameters, e.g. 'optimize: {{{example}}}'",
        )


def _format_vector(value) -> str:
    values = np.asarray(value, dtype=np.float64).ravel()
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _format_loss(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else "n/a"


def _summary(result: raydiff.FitResult, backend: Backend, out_dir: str, frames: int) -> list[str]:
    """The lines printed after a fit."""
    n = result.settings.iterations
    per_iteration = f" ({1000.0 * result.seconds / n:.1f} ms/iteration)" if n else ""
    start_loss = float(result.history[0, 1]) if len(result.history) else math.nan
    lines = [
        f"backend     {backend.describe()}",
        f"iterations  {n} in {result.seconds:.2f} s{per_iteration}",
        f"final loss  {_format_loss(result.final_loss)} (first {_format_loss(start_loss)})",
        "",
    ]
    rows = [("parameter", "start", "", "fitted")]
    rows += [(path, _format_vector(result.start[path]), "->", _format_vector(value)) for path, value in result.values.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    lines += ["", f"wrote {out_dir}/ (history.csv, params.json, fitted.yaml, settings.json, {frames} frames)"]
    return lines


def fit(
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The starting scene (YAML, with an 'optimize' section).",
                                         show_default=False)],
    reference: Annotated[str, typer.Argument(metavar="REF", help="The picture to match (PNG or JPEG, the film's size).",
                                             show_default=False)],
    iterations: Annotated[int, typer.Option(metavar="N", help="Optimiser steps.")] = 200,
    lr: Annotated[
        Optional[float],
        typer.Option(metavar="X", help="Learning rate of every free parameter.",
                     show_default="the scene's, else per kind"),
    ] = None,
    lr_decay: Annotated[float, typer.Option(metavar="G", help="Multiply the learning rates by G every iteration.")] = 1.0,
    spp: Annotated[
        Optional[int],
        typer.Option(metavar="N", help="Samples per pixel while fitting.",
                     show_default="the scene's film.spp"),
    ] = None,
    loss: Annotated[Loss, typer.Option(help="Image loss.")] = Loss.mse,
    arch: Annotated[Arch, typer.Option(help=ARCH_HELP)] = Arch.auto,
    out: Annotated[
        Optional[str],
        typer.Option("--out", "-o", metavar="DIR",
                     help="Output folder, new or empty; the default is named after the scene and the time.",
                     show_default="outputs/<scene>-<time>"),
    ] = None,
    frame_every: Annotated[
        int, typer.Option(metavar="K", min=0, help="Save the render every K iterations (and the last); 0: none.")
    ] = 10,
    seed: Annotated[int, typer.Option(metavar="S", min=0, help="Random seed; every iteration's samples derive from it.")] = 0,
) -> None:
    """Fit the free parameters of SCENE (its 'optimize' section) to the picture REF.

    Writes history.csv, params.json, fitted.yaml, settings.json and frames/ into the output folder, and prints the fitted values.
    """
    with reported_errors():
        settings = _settings(iterations, lr, lr_decay, spp, seed, loss)
        start_scene = raydiff.load_scene(scene)
        ref = raydiff.read_reference(reference, start_scene.film.width, start_scene.film.height)
        _require_optimize(start_scene)
        backend = raydiff.init(arch.value)
        out_dir = out if out is not None else default_output_dir(start_scene.name)
        check_output_dir(out_dir)

        with staging_dir(out_dir) as partial:
            result, frames = _run(start_scene, ref, settings, partial, frame_every)
            write_history_csv(os.path.join(partial, "history.csv"), result.columns, result.history)
            write_params_json(os.path.join(partial, "params.json"), result.values)
            raydiff.dump_scene(start_scene, os.path.join(partial, "fitted.yaml"), values=result.values)
            write_settings_json(
                os.path.join(partial, "settings.json"),
                settings,
                backend,
                result.seconds,
                scene=scene,
                reference=reference,
                frame_every=frame_every,
                final_loss=result.final_loss,
                raydiff_version=raydiff.__version__,
            )
    for line in _summary(result, backend, os.path.normpath(out_dir), frames):
        typer.echo(line)


def _run(scene, ref, settings: raydiff.FitSettings, folder: str, frame_every: int) -> tuple[raydiff.FitResult, int]:
    """Run the fit with a progress bar on stderr, writing frames into ``folder``/frames; returns the
    result and the number of frames written."""
    n = settings.iterations
    frames_dir = os.path.join(folder, "frames")
    if frame_every > 0 and n > 0:
        os.mkdir(frames_dir)
    read_every = max(1, n // 100)  # reading the loss waits for the device
    written = 0
    progress = Progress(
        TextColumn("fitting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )

    def callback(it: raydiff.Iteration) -> None:
        nonlocal written
        last = it.index == n - 1
        if frame_every > 0 and (it.index % frame_every == 0 or last):
            write_frame(os.path.join(frames_dir, frame_name(it.index)), it.image())
            written += 1
        if it.index % read_every == 0 or last:
            progress.update(task, completed=it.index + 1, loss=f"{it.loss:.4g}")
        else:
            progress.update(task, completed=it.index + 1)

    with progress:
        task = progress.add_task("fit", total=n, loss="-")
        result = raydiff.fit(scene, ref, settings, callback=callback)
    return result, written
