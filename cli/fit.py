"""``raydiff fit``: fit a scene's free parameters to a reference picture, and keep what happened.

The command has four parts, in order:

1. **check**: the settings, the scene, the reference, the truth, the backend and the output folder (or,
   with ``--resume``, the checkpoint). Any problem is one error line, and nothing has been written.
2. **run**: the fit, with a progress bar, a composite frame every K iterations and a checkpoint every C.
   Ctrl-C or SIGTERM stops it after the current iteration (a second Ctrl-C aborts at once).
3. **finish**: history, parameters, fitted scene, settings, checkpoint, animation, plots and report
   (:class:`raydiff.run.folder.RunFolder`), also after a stop.
4. **report**: a summary on stdout (or ``--json``), exit code 0, or 130/143 after SIGINT/SIGTERM.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
from dataclasses import asdict
from enum import Enum
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import raydiff
from raydiff.backend import Backend
from raydiff.io.checkpoint import load_checkpoint
from raydiff.run import plots
from raydiff.io.outputs import check_output_dir, default_output_dir
from raydiff.run.folder import CHECKPOINT, RunFolder

from .messages import ARCH_HELP, Arch, fail, reported_errors

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Loss(str, Enum):
    """The image losses ``--loss`` accepts."""

    mse = "mse"
    l1 = "l1"


class Space(str, Enum):
    """How a reference's pixel values are encoded."""

    linear = "linear"
    srgb = "srgb"


# FitSettings names its fields in its messages; the user typed options.
_OPTION_OF_FIELD = {"iterations": "--iterations", "lr": "--lr", "lr_decay": "--lr-decay", "spp": "--spp"}


# =================================================================================================
# 1. Check
# =================================================================================================


def _settings(**fields) -> raydiff.FitSettings:
    """The FitSettings, or an error line naming the offending option."""
    try:
        return raydiff.FitSettings(**fields)
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


def _check_truth(truth, scene) -> None:
    """The true scene must name every freed light and object."""
    for entry in scene.optimize:
        group, name, _ = entry.path.split(".")
        names = [e.name for e in (truth.lights if group == "lights" else truth.objects)]
        if name not in names:
            raise raydiff.SceneError(
                raydiff.Location(truth.source, group), f"--truth has no {group[:-1]} named '{name}' (freed by {scene.source})"
            )


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _resume_state(folder: str, scene_path: str, reference_path: str):
    """The checkpoint in ``folder`` and the settings it was made with; its scene and reference must be
    the files given now, unchanged."""
    arrays, meta = load_checkpoint(os.path.join(folder, CHECKPOINT))
    for what, path in (("scene", scene_path), ("reference", reference_path)):
        if meta.get(f"{what}_sha256") != _digest(path):
            fail(f"{path}: this {what} is not the one the fit in {folder} started from (it was {meta.get(what)})")
    return arrays, meta


# =================================================================================================
# 2. Run
# =================================================================================================


class _StopOnSignal:
    """The first SIGINT or SIGTERM asks the fit to stop after its current iteration; a second SIGINT
    interrupts at once (KeyboardInterrupt)."""

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self):
        for sig in EXIT_SIGNAL:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("fitting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )


def _run(scene, ref, settings, folder: RunFolder, meta: dict, resume, frame_every: int, checkpoint_every: int,
         quiet: bool, stopper: _StopOnSignal, console: Console):
    """Run the fit, writing frames and checkpoints into ``folder``; returns the result."""
    n = settings.iterations
    read_every = max(1, n // 100)  # reading the loss waits for the device
    seen_halvings = int(np.asarray(resume["adam_state"])[1]) if resume is not None else 0
    progress = _progress(quiet)

    def callback(it: raydiff.Iteration) -> None:
        nonlocal seen_halvings
        last = it.index == n - 1 or stopper.signal is not None
        if frame_every > 0 and (it.index % frame_every == 0 or last):
            folder.write_frame(it.index, it.image(), ref, it.loss)
        if last or (checkpoint_every > 0 and (it.index + 1) % checkpoint_every == 0):
            folder.write_checkpoint(it.checkpoint(), meta)
        if it.index % read_every == 0 or last:
            guard = it.guard()
            if guard["halvings"] > seen_halvings:
                seen_halvings = guard["halvings"]
                console.print(
                    f"iteration {guard['last_rollback']}: the loss or a gradient was not finite; rolled back to the "
                    f"best parameters (iteration {guard['best_iteration']}) and halved the learning rates",
                    style="yellow",
                )
            progress.update(task, completed=it.index + 1, loss=f"{it.loss:.4g}")
        else:
            progress.update(task, completed=it.index + 1)
        if stopper.signal is not None:
            it.stop()

    with progress:
        done = int(resume["iteration"]) if resume is not None else 0
        task = progress.add_task("fit", total=n, completed=done, loss="-")
        return raydiff.fit(scene, ref, settings, callback=callback, resume=resume)


# =================================================================================================
# 4. Report
# =================================================================================================


def _format_vector(value) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in np.asarray(value, dtype=np.float64).ravel()) + "]"


def _format_loss(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else "n/a"


def _summary(result: raydiff.FitResult, backend: Backend, out_dir: str, written: list[str], truth) -> list[str]:
    """The lines printed after a fit."""
    n = result.iterations
    per_iteration = f" ({1000.0 * result.seconds / n:.1f} ms/iteration)" if n else ""
    ended = f", stopped early (of {result.settings.iterations})" if result.stopped else ""
    start_loss = float(result.history[0, 1]) if n else math.nan
    lines = [
        f"backend     {backend.describe()}",
        f"iterations  {n} in {result.seconds:.2f} s{per_iteration}{ended}",
        f"loss        {_format_loss(start_loss)} -> {_format_loss(result.final_loss)}"
        + (f" (best {_format_loss(result.best_loss)} at iteration {result.best_iteration})" if n else ""),
        "",
    ]
    header = ("parameter", "start", "", "fitted") + (("", "truth") if truth else ())
    rows = [header]
    for path, value in result.values.items():
        row = (path, _format_vector(result.start[path]), "->", _format_vector(value))
        if truth:
            row += ("vs", _format_vector(truth[path]) if path in truth else "?")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    lines += ["", f"wrote {out_dir}/ ({', '.join(written)})"]
    return lines


def _json_summary(result: raydiff.FitResult, backend: Backend, out_dir: str, truth) -> str:
    def floats(v):
        return [float(x) for x in np.asarray(v, dtype=np.float64).ravel()]

    return json.dumps(
        {
            "output": out_dir,
            "backend": backend.name,
            "iterations": result.iterations,
            "stopped_early": result.stopped,
            "seconds": result.seconds,
            "final_loss": result.final_loss if math.isfinite(result.final_loss) else None,
            "best_loss": result.best_loss if math.isfinite(result.best_loss) else None,
            "best_iteration": result.best_iteration,
            "halvings": result.halvings,
            "parameters": {
                path: {"start": floats(result.start[path]), "fitted": floats(value),
                       "truth": floats(truth[path]) if truth and path in truth else None}
                for path, value in result.values.items()
            },
        }
    )


# =================================================================================================
# The command
# =================================================================================================


def fit(
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The starting scene (YAML, with an 'optimize' section).",
                                         show_default=False)],
    reference: Annotated[str, typer.Argument(metavar="REF", help="The picture to match (PNG, JPEG or EXR, the film's size).",
                                             show_default=False)],
    iterations: Annotated[int, typer.Option(metavar="N", help="Optimiser steps.")] = 200,
    lr: Annotated[Optional[float], typer.Option(metavar="X", help="Learning rate of every free parameter.",
                                                show_default="the scene's, else per kind")] = None,
    lr_decay: Annotated[float, typer.Option(metavar="G", help="Multiply the learning rates by G every iteration.")] = 1.0,
    spp: Annotated[Optional[int], typer.Option(metavar="N", help="Samples per pixel while fitting.",
                                               show_default="the scene's film.spp")] = None,
    loss: Annotated[Loss, typer.Option(help="Image loss.")] = Loss.mse,
    arch: Annotated[Arch, typer.Option(help=ARCH_HELP)] = Arch.auto,
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", metavar="DIR", help="Output folder, new or empty; the default is named after the scene and the time.",
        show_default="outputs/<scene>-<time>")] = None,
    frame_every: Annotated[int, typer.Option(
        metavar="K", min=0, help="Save a frame (render | reference | error) every K iterations and at the last; 0: none.")] = 10,
    seed: Annotated[int, typer.Option(metavar="S", min=0, help="Random seed; every iteration's samples derive from it.")] = 0,
    truth: Annotated[Optional[str], typer.Option(
        metavar="TRUE.yaml", help="The true scene, if known: its values are drawn in the plots and compared in the report.",
        show_default=False)] = None,
    reference_space: Annotated[Optional[Space], typer.Option(
        help="How REF's values are encoded.", show_default="srgb for PNG/JPEG, linear for EXR")] = None,
    fps: Annotated[float, typer.Option(metavar="F", min=0.1, help="Frames per second of the animation.")] = 10.0,
    animation_every: Annotated[int, typer.Option(metavar="J", min=1, help="Put every J-th saved frame in the animation.")] = 1,
    checkpoint_every: Annotated[int, typer.Option(
        metavar="C", min=0, help="Refresh the checkpoint every C iterations (and always at the end); 0: only at the end.")] = 25,
    resume: Annotated[Optional[str], typer.Option(
        metavar="OUT", help="Continue the fit in OUT from its checkpoint, with the settings it started with.",
        show_default=False)] = None,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic", help="Bit-for-bit reproducible: the CPU backend on one thread (slower).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout instead of the table.")] = False,
) -> None:
    """Fit the free parameters of SCENE (its 'optimize' section) to the picture REF.

    Writes frames, history.csv, params.json, fitted.yaml, settings.json, a checkpoint, an animation, plots
    and report.html into the output folder, and prints the fitted values. Ctrl-C stops after the current
    iteration and still writes everything; --resume continues.
    """
    console = Console(stderr=True, quiet=quiet, soft_wrap=True)  # messages stay one line each
    with reported_errors():
        # --- 1. check -------------------------------------------------------------------------------------
        settings = _settings(iterations=iterations, lr=lr, lr_decay=lr_decay, spp=spp, seed=seed, loss=loss.value)
        start_scene = raydiff.load_scene(scene)
        space = reference_space.value if reference_space is not None else None
        state = None
        if resume is not None:
            state, meta = _resume_state(resume, scene, reference)
            settings = raydiff.FitSettings(**meta["settings"])
            space, frame_every = meta["reference_space"], meta["frame_every"]
            deterministic = deterministic or bool(meta["backend"].get("deterministic"))
        ref = raydiff.read_reference(reference, start_scene.film.width, start_scene.film.height, space=space)
        _require_optimize(start_scene)
        true_scene = raydiff.load_scene(truth) if truth is not None else None
        if true_scene is not None:
            _check_truth(true_scene, start_scene)
        backend = raydiff.init(arch.value, deterministic=deterministic)
        out_dir = resume if resume is not None else (out if out is not None else default_output_dir(start_scene.name))
        if resume is None:
            check_output_dir(out_dir)
            meta = {
                "scene": scene, "scene_sha256": _digest(scene),
                "reference": reference, "reference_sha256": _digest(reference), "reference_space": space,
                "truth": truth, "frame_every": frame_every, "settings": asdict(settings),
                "raydiff_version": raydiff.__version__,
            }
        meta["backend"] = {**asdict(backend), "description": backend.describe()}

        # --- 2. run -----------------------------------------------------------------------------------
        folder = RunFolder(out_dir)
        with _StopOnSignal() as stopper:
            result = _run(start_scene, ref, settings, folder, meta, state, frame_every, checkpoint_every,
                          quiet or json_out, stopper, console)

        # --- 3. finish --------------------------------------------------------------------------------
            truth_values = plots.truth_values(true_scene, list(result.values)) if true_scene else None
            written = folder.finish(result, start_scene, meta, truth=true_scene, fps=fps, animation_every=animation_every)
            written += [CHECKPOINT] + (["frames/"] if folder.frame_paths() else [])

    # --- 4. report ------------------------------------------------------------------------------------
    if json_out:
        typer.echo(_json_summary(result, backend, os.path.normpath(out_dir), truth_values))
    elif not quiet:
        for line in _summary(result, backend, os.path.normpath(out_dir), written, truth_values):
            typer.echo(line)
    if stopper.signal is not None:
        console.print(f"stopped by {signal.Signals(stopper.signal).name}; continue with --resume {out_dir}")
        raise typer.Exit(EXIT_SIGNAL[stopper.signal])
