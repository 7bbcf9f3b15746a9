"""``raydiff fit``: fit a scene's free parameters to a reference picture, and keep what happened.

The command has four parts, in order:

1. **check**: the settings, the scene, the references (one per camera, in the order of the scene's
   cameras), the truth, the backend and the output folder (or, with ``--resume``, the checkpoint, and
   that no option given would change the settings it keeps). Any problem is one error line, and nothing
   has been written. Then the folder is claimed (:mod:`raydiff.io.claim`), atomically: a second fit in
   it, now or later while this one runs, is refused.
2. **run**: the fit, with a progress bar, the checkpoint before the first iteration and every C, and a
   composite frame every K iterations, written in a background thread (:mod:`raydiff.run.background`)
   from what the loop read from the device. Once the first iteration is done, Ctrl-C or SIGTERM stops it after
   the current iteration (a second Ctrl-C aborts at once); before that, Ctrl-C says ``interrupted`` and
   takes back the folder it made.
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
from dataclasses import replace as dataclass_replace
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import raydiff
from raydiff.backend import Backend
from raydiff.io.checkpoint import CheckpointError, load_checkpoint
from raydiff.io.claim import LOCK, Claim, FolderBusy, claim, holder, other_entries
from raydiff.io.images import SPACES
from raydiff.io.outputs import check_output_dir, default_output_dir
from raydiff.optim.converge import check_due, converged, scales
from raydiff.optim.fit import CHECKPOINT_ARRAYS, OPTIMIZERS, CheckpointMismatch, optimizer_of
from raydiff.optim.loss import LOSSES
from raydiff.run import budget, plots, textures
from raydiff.run.background import BackgroundWriter
from raydiff.run.folder import CHECKPOINT, SETTINGS, RunFolder
from raydiff.scene.parameters import elements, kind_for, parse_path, resolve_all, scene_size, type_name

from .messages import ARCH_HELP, Arch, choices, fail, reported_errors

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

#: The image losses ``--loss`` accepts: :data:`raydiff.optim.loss.LOSSES`.
Loss = choices("Loss", LOSSES, "The image losses ``--loss`` accepts.")
#: How a reference's pixel values may be encoded (``--reference-space``): :data:`raydiff.io.images.SPACES`
#: but None, which is the option left out.
#: The optimisers ``--optimizer`` accepts: :data:`raydiff.optim.fit.OPTIMIZERS`.
Optimizer = choices("Optimizer", OPTIMIZERS, "The optimisers ``--optimizer`` accepts.")
Space = choices("Space", [space for space in SPACES if space is not None], "How a reference's pixel values are encoded.")


# FitSettings names its fields in its messages; the user typed options.
_OPTION_OF_FIELD = {"iterations": "--iterations", "lr": "--lr", "lr_decay": "--lr-decay", "spp": "--spp", "seed": "--seed",
                    "tol": "--tol", "optimizer": "--optimizer", "primary_sets": "--primary-sets",
                    "primary_refresh": "--primary-refresh"}


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


def jacobian_columns(scene, settings) -> int:
    """The free scalars of a fit of ``scene`` that runs Levenberg-Marquardt (its Jacobian's columns, for
    the memory check); 0 for one that runs Adam."""
    free = sum(r.kind.size for r in resolve_all(scene))
    return free if optimizer_of(settings, free) == "lm" else 0


def _require_optimize(scene) -> None:
    """A scene without ``optimize`` entries has nothing to fit."""
    if not scene.optimize:
        example = f"lights.{scene.lights[0].name}.position: {{}}" if scene.lights else "lights.<name>.position: {}"
        raise raydiff.SceneError(
            raydiff.Location(scene.source, "optimize"),
            f"nothing to fit: add an 'optimize' section naming the free parameters, e.g. 'optimize: {{{example}}}'",
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _check_reference_count(scene, references: list[str]) -> None:
    """One reference per camera, in the order of the scene's cameras."""
    n, given = len(scene.cameras), len(references)
    if n == given:
        return
    names = f" ({', '.join(camera.name for camera in scene.cameras)})" if scene.several_views else ""
    key = "cameras" if scene.several_views else "camera"
    raise raydiff.SceneError(
        raydiff.Location(scene.source, key),
        f"the scene has {_plural(n, 'camera')}{names} but {_plural(given, 'reference')} "
        f"{'was' if given == 1 else 'were'} given: give one reference per camera, in order",
    )


def _check_truth(truth, scene) -> None:
    """The true scene must have every element the fit frees (the same camera layout for a camera's
    parameter), of a type with the freed field, so that its true values can be read."""
    for entry in scene.optimize:
        path = parse_path(scene, entry.path, raydiff.Location(scene.source, f"optimize.{entry.path}"))
        group, name = path.group, path.name
        freed = f"freed by {scene.source} as '{entry.path}'"
        if group == "cameras" and truth.several_views != scene.several_views:
            if scene.several_views:
                raise raydiff.SceneError(
                    raydiff.Location(truth.source, "camera"),
                    f"--truth has one camera, not the cameras of {scene.source} ('{entry.path}'): "
                    "give a true scene with the same cameras",
                )
            cameras = ", ".join(camera.name for camera in truth.cameras)
            raise raydiff.SceneError(
                raydiff.Location(truth.source, "cameras"),
                f"--truth lists several cameras ({cameras}) but {scene.source} has one ('{entry.path}'): "
                "give a true scene with one camera",
            )
        key = "camera" if group == "cameras" and not truth.several_views else group
        found = [e for e in elements(truth, group) if e.name == name]
        if not found:
            raise raydiff.SceneError(
                raydiff.Location(truth.source, key), f"--truth has no {group[:-1]} named '{name}' (freed by {scene.source})"
            )
        if kind_for(group, found[0], path.field) is None:
            raise raydiff.SceneError(
                raydiff.Location(truth.source, key),
                f"--truth's {group[:-1]} '{name}' is a {type_name(group, found[0])}, which has no '{path.field}' ({freed})",
            )


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _recorded_references(meta: dict) -> tuple[list, list]:
    """The reference files a checkpoint's fit started from, and their digests (a checkpoint made before
    several views recorded one reference, as ``reference`` and ``reference_sha256``)."""
    if "references" in meta:
        return list(meta["references"]), list(meta.get("references_sha256", []))
    return [meta.get("reference")], [meta.get("reference_sha256")]


#: What a resumed fit reads from its checkpoint's record of the fit.
_META_KEYS = ("scene_sha256", "settings", "frame_every", "reference_space", "backend")

#: The options whose value a resumed fit takes from its checkpoint: option -> (parameter, read the saved value
#: from the settings and the record, turn the given value into it).
_KEPT_ON_RESUME = {
    "--lr": ("lr", lambda s, m: s.lr, float),
    "--lr-decay": ("lr_decay", lambda s, m: s.lr_decay, float),
    "--spp": ("spp", lambda s, m: s.spp, int),
    "--loss": ("loss", lambda s, m: s.loss, lambda v: v.value),
    "--optimizer": ("optimizer", lambda s, m: s.optimizer, lambda v: v.value),
    "--seed": ("seed", lambda s, m: s.seed, int),
    "--frame-every": ("frame_every", lambda s, m: m["frame_every"], int),
    "--reference-space": ("reference_space", lambda s, m: m["reference_space"], lambda v: v.value),
    "--correlated": ("correlated", lambda s, m: not s.decorrelate, bool),
    "--no-boundary": ("no_boundary", lambda s, m: not s.boundary, bool),
    "--primary-sets": ("primary_sets", lambda s, m: s.primary_sets, int),
    "--primary-refresh": ("primary_refresh", lambda s, m: s.primary_refresh, int),
}

#: The file a fit's results end with: a folder with it holds a finished fit's results (or a stopped one's).
_LAST_RESULT = "report.html"


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave the option ``name`` (its parameter's name) on the command line."""
    source = ctx.get_parameter_source(name)  # click's ParameterSource (Typer vendors click: compared by name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _check_resume_folder(folder: str) -> str:
    """``folder`` must be a folder holding a checkpoint, that no other fit is running in; returns the
    checkpoint's path."""
    if os.path.isfile(folder):
        if os.path.basename(folder) == CHECKPOINT:
            fail(f"{folder}: --resume takes the folder that holds the checkpoint: --resume {os.path.dirname(folder) or '.'}")
        fail(f"{folder}: is a file, not a folder: --resume takes the output folder of an earlier `raydiff fit`")
    path = os.path.join(folder, CHECKPOINT)
    if os.path.isdir(folder):
        pid = holder(folder)
        if pid is not None:
            raise FolderBusy(folder, pid if pid >= 0 else None, new=False)
        if not os.path.isfile(path) and os.path.exists(os.path.join(folder, LOCK)) and not other_entries(folder):
            fail(f"{folder}: no checkpoint here: the fit started in this folder was stopped before it saved one; "
                 f"start it again with --out {folder}")
    return path


def _has_converged(scene, arrays: dict, settings) -> bool:
    """Whether the checkpoint's history says the fit had converged under ``settings``' stop criterion."""
    history = np.asarray(arrays["history"], dtype=np.float64)
    done = int(np.asarray(arrays["iteration"]))
    if not check_due(done, settings.window, settings.tol) or history.ndim != 2 or len(history) < done:
        return False
    fixed, floor = scales(resolve_all(scene), scene_size(scene))
    if history.shape[1] != 2 + len(fixed):
        return False
    return converged(history[:done], settings.window, settings.tol, fixed, floor)


def _resume_state(ctx: typer.Context, folder: str, scene_path: str, reference_paths: list[str], given: dict, scene):
    """The checkpoint in ``folder``, the record of the fit it was made with, and its settings (with
    ``--iterations`` and ``--tol``, when given, as the new cap and tolerance); its scene and every reference must be the files given
    now, in the same order, unchanged, and no option a resumed fit takes from the checkpoint may say
    otherwise. ``given`` holds the options' values by parameter name."""
    path = _check_resume_folder(folder)
    arrays, meta = load_checkpoint(path, required=CHECKPOINT_ARRAYS)
    missing = [key for key in _META_KEYS if key not in meta]
    if missing or not isinstance(meta["settings"], dict) or not isinstance(meta["backend"], dict):
        raise CheckpointError(path, f"its record of the fit lacks {', '.join(missing) or 'valid settings'} "
                                    "(damaged, or not written by `raydiff fit`)")
    try:
        saved = raydiff.FitSettings.from_dict(meta["settings"])
        done = int(np.asarray(arrays["iteration"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"its record of the fit holds invalid settings ({err})") from None
    if meta.get("scene_sha256") != _digest(scene_path):
        fail(f"{scene_path}: this scene is not the one the fit in {folder} started from (it was {meta.get('scene')})")
    files, digests = _recorded_references(meta)
    if len(files) != len(reference_paths):
        fail(f"{folder}: the fit there started from {_plural(len(files), 'reference')} ({', '.join(map(str, files))}), "
             f"not {len(reference_paths)}: give the same references, in the same order")
    for ref, file, digest in zip(reference_paths, files, digests + [None] * (len(files) - len(digests))):
        if digest != _digest(ref):
            fail(f"{ref}: this reference is not the one the fit in {folder} started from (it was {file})")

    if _given(ctx, "out") and os.path.realpath(given["out"]) != os.path.realpath(folder):
        fail(f"{folder}: --out {given['out']} cannot go with --resume: a resumed fit writes into the folder it "
             f"continues; drop --out, or drop --resume to start a new fit in {given['out']}")
    for option, (name, read, convert) in _KEPT_ON_RESUME.items():
        if not _given(ctx, name):
            continue
        value, kept = convert(given[name]), read(saved, meta)
        if value == kept:
            continue
        if isinstance(value, bool):
            ours, theirs = (option, f"no {option}") if value else (f"no {option}", option)
        else:
            ours, theirs = f"{option} {value}", f"{option} {kept}" if kept is not None else f"no {option}"
        fail(f"{folder}: {ours} differs from the fit there ({theirs}): a resumed fit keeps the settings it started "
             f"with; drop {option}, or start a new fit with another --out")

    total = saved.iterations
    finished = done >= saved.iterations and os.path.isfile(os.path.join(folder, _LAST_RESULT))
    if _given(ctx, "iterations"):
        total = given["iterations"]
        if total < done:
            fail(f"{folder}: --iterations {total} is below the {done} iterations the fit there has run: --iterations "
                 f"is the total to continue to; give at least {done + 1 if finished else done}")
    if finished and total <= done:
        fail(f"{folder}: the fit there has finished ({done} of {saved.iterations} iterations): give --iterations N "
             f"above {done} to continue it to N")
    settings = dataclass_replace(saved, iterations=total, tol=given["tol"] if _given(ctx, "tol") else saved.tol)
    if os.path.isfile(os.path.join(folder, _LAST_RESULT)) and _has_converged(scene, arrays, settings):
        fail(f"{folder}: the fit there has converged (at iteration {done}, --tol {settings.tol:g}): give a smaller "
             "--tol, or --tol 0 to run to --iterations, to continue it")
    meta = {key: value for key, value in meta.items() if key not in ("reference", "reference_sha256")}
    meta["references"], meta["references_sha256"] = files, digests
    meta["settings"] = asdict(settings)
    return arrays, meta, settings


# =================================================================================================
# 2. Run
# =================================================================================================


class _StopOnSignal:
    """Once the fit has started (its first iteration done), the first SIGINT or SIGTERM asks it to stop
    after its current iteration, and a second SIGINT interrupts at once (KeyboardInterrupt). During
    start-up (building the device scene, compiling the kernels) there is nothing to keep yet: SIGINT
    interrupts at once (``aborted`` says so), and SIGTERM stops the fit after its first iteration."""

    def __init__(self):
        self.signal: int | None = None
        self.started = False
        self.aborted = False
        self._previous = {}

    def _handle(self, signum, frame):
        if signum == signal.SIGINT and (self.signal is not None or not self.started):
            self.aborted = not self.started
            previous = self._previous.get(signal.SIGINT)
            if callable(previous):  # reported_errors' watch: it remembers the interrupt, then raises
                previous(signum, frame)
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


class _Rollbacks:
    """Tells of the divergence guard's rollbacks: the first as it happens, one line; any later ones as
    one line at the end (:meth:`summary`), so that a loss that stays NaN does not flood the terminal."""

    def __init__(self, console: Console, seen: int):
        self.console, self.seen, self.told, self.more, self.last = console, seen, False, 0, -1

    def update(self, guard: dict) -> None:
        new = guard["halvings"] - self.seen
        if new <= 0:
            return
        self.seen, self.last = guard["halvings"], guard["last_rollback"]
        if not self.told:
            self.told, new = True, new - 1
            done = ("kept the parameters and damped the steps harder" if "damping" in guard else  # Levenberg-Marquardt
                    f"rolled back to the best parameters (iteration {guard['best_iteration']}) and halved the learning rates")
            self.console.print(
                f"iteration {guard['last_rollback']}: the loss or a gradient was not finite; {done}"
                " (any further rollbacks are counted at the end)",
                style="yellow",
            )
        self.more += new

    def summary(self) -> None:
        if self.more:
            self.console.print(
                f"the loss or a gradient was not finite {_plural(self.more, 'more time')} (the last at iteration "
                f"{self.last}): each time the fit rolled back and halved the learning rates again "
                f"({self.seen} halvings in all)",
                style="yellow",
            )


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


def _run(scene, refs: list, settings, folder: RunFolder, meta: dict, resume, frame_every: int, checkpoint_every: int,
         quiet: bool, stopper: _StopOnSignal, console: Console):
    """Run the fit against ``refs`` (one per camera), writing frames (one row per view) and checkpoints
    into ``folder`` (a new fit's first before its first iteration); returns the result."""
    n = settings.iterations
    read_every = max(1, n // 100)  # reading the loss waits for the device
    state = None if resume is None else resume.get("adam_state", resume.get("lm_state"))
    rollbacks = _Rollbacks(console, int(np.asarray(state)[1]) if state is not None else 0)
    progress = _progress(quiet)
    view_names = [camera.name for camera in scene.cameras]

    writer = BackgroundWriter(nice=5)  # the device is read here; the files are written while the fit goes on

    def started(state: dict) -> None:
        if resume is None:  # a resumed fit's folder has its checkpoint already
            writer.submit(folder.write_checkpoint, state, meta)

    warming = [plots.warm_up]  # the plots at the end need matplotlib: imported while the fit runs, once
    # the first iteration is done (before it, the import took turns at the GIL with the kernels' compilation
    # and held the first iteration back by about as long as it took: docs/performance.md, section 12)

    def callback(it: raydiff.Iteration) -> None:
        stopper.started = True
        stopping = stopper.signal is not None  # read once: a signal that comes during this callback stops the next
        last = it.last or stopping
        if frame_every > 0 and (it.index % frame_every == 0 or last):
            writer.submit(folder.write_frame, it.index, it.images(), refs, it.loss, view_names=view_names)
        if last or (checkpoint_every > 0 and (it.index + 1) % checkpoint_every == 0):
            writer.submit(folder.write_checkpoint, it.checkpoint(), meta)
        if it.index % read_every == 0 or last:
            rollbacks.update(it.guard())
            progress.update(task, completed=it.index + 1, loss=f"{it.loss:.4g}")
        else:
            progress.update(task, completed=it.index + 1)
        if warming:
            writer.submit(warming.pop())
        if stopping:
            it.stop()

    try:
        with writer:  # every file is written (or its error raised) before the fit's folder is read or given up
            with progress:
                done = int(resume["iteration"]) if resume is not None else 0
                task = progress.add_task("fit", total=n, completed=done, loss="-")
                result = raydiff.fit(scene, refs, settings, callback=callback, resume=resume, started=started)
    except CheckpointMismatch as err:
        raise CheckpointError(folder.file(CHECKPOINT), str(err)) from None
    rollbacks.summary()
    return result


def _claim(out: str | None, resume: str | None, scene_name: str) -> Claim:
    """The claim on the fit's folder: ``resume``'s, ``out`` (new or empty), or a new folder named after the
    scene and the time (the next free name, if another fit takes one first)."""
    if resume is not None:
        return claim(resume, new=False)
    if out is not None:
        return claim(out, new=True)
    for _ in range(100):
        try:
            return claim(default_output_dir(scene_name), new=True, must_create=True)
        except (FileExistsError, FolderBusy):
            continue
    return claim(default_output_dir(scene_name), new=True)


# =================================================================================================
# 4. Report
# =================================================================================================


def _format_vector(value) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in np.asarray(value, dtype=np.float64).ravel()) + "]"


def _format_loss(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else "n/a"


def _summary(result: raydiff.FitResult, backend: Backend, out_dir: str, written: list[str], truth,
             views: list[tuple[str, str]]) -> list[str]:
    """The lines printed after a fit; ``views`` is ``(camera, reference)`` per view, named when there are
    several."""
    n = result.iterations
    per_iteration = f" ({1000.0 * result.seconds / n:.1f} ms/iteration)" if n else ""
    ended = {"converged": f", converged (of at most {result.settings.iterations})",
             "stopped": f", stopped early (of {result.settings.iterations})"}.get(
        result.ended, ", all of them (--tol 0)" if result.settings.tol <= 0 else ", the cap: not converged")
    start_loss = float(result.history[0, 1]) if n else math.nan
    lines = [
        f"backend     {backend.describe()}",
        f"iterations  {n} in {result.seconds:.2f} s{per_iteration}{ended}",
        f"loss        {_format_loss(start_loss)} -> {_format_loss(result.final_loss)}"
        + (f" (best {_format_loss(result.best_loss)} at iteration {result.best_iteration})" if n else ""),
    ]
    if len(views) > 1:
        lines.append("views       " + ", ".join(f"{camera} ({reference})" for camera, reference in views))
    lines.append("")
    header = ("parameter", "start", "", "fitted") + (("", "truth") if truth else ())
    rows = [header]
    shapes = textures.texture_shapes(result.scene, result.values)  # a texture: its size and mean

    def shown(path, value):
        return textures.describe(value, shapes[path]) if path in shapes else _format_vector(value)

    for path, value in result.values.items():
        row = (path, shown(path, result.start[path]), "->", shown(path, value))
        if truth:
            row += ("vs", shown(path, truth[path]) if path in truth else "?")
            if path in shapes and path in truth and np.size(truth[path]) == np.size(value):
                row = row[:-1] + (f"{row[-1]} (PSNR {textures.psnr(value, truth[path]):.2f} dB)",)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    lines += ["", f"wrote {out_dir}/ ({', '.join(written)})"]
    return lines


def _json_summary(result: raydiff.FitResult, backend: Backend, out_dir: str, truth, views: list[tuple[str, str]]) -> str:
    shapes = textures.texture_shapes(result.scene, result.values)

    def floats(v, path=None):
        if path in shapes:  # a texture: its mean per channel (the texels are in the folder's fitted/)
            return [float(x) for x in textures.texture_mean(v, shapes[path])]
        return [float(x) for x in np.asarray(v, dtype=np.float64).ravel()]

    return json.dumps(
        {
            "output": out_dir,
            "cameras": [camera for camera, _ in views],
            "references": [reference for _, reference in views],
            "backend": backend.name,
            "iterations": result.iterations,
            "stopped_early": result.stopped,
            "ended": result.ended,
            "optimizer": result.optimizer,
            "seconds": result.seconds,
            "final_loss": result.final_loss if math.isfinite(result.final_loss) else None,
            "best_loss": result.best_loss if math.isfinite(result.best_loss) else None,
            "best_iteration": result.best_iteration,
            "halvings": result.halvings,
            "parameters": {
                path: {"start": floats(result.start[path], path), "fitted": floats(value, path),
                       "truth": floats(truth[path], path) if truth and path in truth else None}
                for path, value in result.values.items()
            },
        }
    )


# =================================================================================================
# The command
# =================================================================================================


def fit(
    ctx: typer.Context,
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The starting scene (YAML, with an 'optimize' section).",
                                         show_default=False)],
    references: Annotated[list[str], typer.Argument(
        metavar="REF...", help="The pictures to match (PNG, JPEG or EXR, the film's size): one per camera, in the "
                               "order of the scene's cameras.", show_default=False)],
    iterations: Annotated[int, typer.Option(metavar="N", help="The most optimiser steps (the fit stops earlier once converged).")] = 200,
    tol: Annotated[float, typer.Option(
        metavar="T", help="Stop criterion: stop once, between two windows of 10 iterations, the mean loss falls by "
                          "less than 10 T of itself and no free value's mean moves by more than T of its scale; "
                          "0: run all --iterations.")] = raydiff.FitSettings().tol,
    lr: Annotated[Optional[float], typer.Option(metavar="X", help="Learning rate of every free parameter.",
                                                show_default="the scene's, else per kind")] = None,
    lr_decay: Annotated[float, typer.Option(metavar="G", help="Multiply the learning rates by G every iteration.")] = raydiff.FitSettings().lr_decay,
    spp: Annotated[Optional[int], typer.Option(metavar="N", help="Samples per pixel while fitting.",
                                               show_default="the scene's film.spp")] = None,
    loss: Annotated[Loss, typer.Option(help="Image loss.")] = Loss(raydiff.FitSettings().loss),
    optimizer: Annotated[Optimizer, typer.Option(
        help="lm: Levenberg-Marquardt on the image residuals (mse only; --lr and --lr-decay do not apply); adam: "
             "Adam on the gradient; auto: lm for at most 32 free scalars with --loss mse, else adam.")] = Optimizer(
        raydiff.FitSettings().optimizer),
    arch: Annotated[Arch, typer.Option(help=ARCH_HELP)] = Arch.auto,
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", metavar="DIR", help="Output folder, new or empty; the default is named after the scene and the time.",
        show_default="outputs/<scene>-<time>")] = None,
    frame_every: Annotated[int, typer.Option(
        metavar="K", min=0, help="Save a frame (render | reference | error, one row per camera) every K iterations "
                                 "and at the last; 0: none.")] = 10,
    seed: Annotated[int, typer.Option(metavar="S", min=0, help="Random seed; every iteration's samples derive from it.")] = 0,
    truth: Annotated[Optional[str], typer.Option(
        metavar="TRUE.yaml", help="The true scene, if known: its values are drawn in the plots and compared in the report.",
        show_default=False)] = None,
    reference_space: Annotated[Optional[Space], typer.Option(
        help="How the values of every REF are encoded.", show_default="srgb for PNG/JPEG, linear for EXR")] = None,
    fps: Annotated[float, typer.Option(metavar="F", min=0.1, help="Frames per second of the animation.")] = 10.0,
    animation_every: Annotated[int, typer.Option(metavar="J", min=1, help="Put every J-th saved frame in the animation.")] = 1,
    checkpoint_every: Annotated[int, typer.Option(
        metavar="C", min=0, help="Refresh the checkpoint every C iterations (and always at the end); 0: only at the end.")] = 25,
    resume: Annotated[Optional[str], typer.Option(
        metavar="OUT", help="Continue the fit in OUT from its checkpoint, with the settings it started with "
                            "(--iterations N: to N iterations in all).", show_default=False)] = None,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic", help="Bit-for-bit reproducible: the CPU backend on one thread (slower).")] = False,
    correlated: Annotated[bool, typer.Option(
        "--correlated", help="Estimate the gradient from the render's own samples (biased by O(1/spp); one "
                             "visibility pass less per iteration) instead of independent ones.")] = False,
    no_boundary: Annotated[bool, typer.Option(
        "--no-boundary", help="Leave out the boundary terms (moving shadow edges and outlines) of the gradient.")] = False,
    primary_sets: Annotated[int, typer.Option(
        metavar="K", help="Trace the camera rays of K sample sets once and reuse their hits (light and material "
                          "fits: where neither a camera nor the geometry is free and no mirror is followed; "
                          "elsewhere every iteration traces its own); 0: trace them every iteration.")]
        = raydiff.FitSettings().primary_sets,
    primary_refresh: Annotated[int, typer.Option(
        metavar="M", help="With the primary cache, re-trace the set a render reads once its samples are M "
                          "iterations old (1: every loss on fresh samples, as without the cache); 0: the sets "
                          "stay fixed (faster, less accurate).")]
        = raydiff.FitSettings().primary_refresh,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout instead of the table.")] = False,
) -> None:
    """Fit the free parameters of SCENE (its 'optimize' section) to the pictures REF...

    One reference per camera of SCENE, in the order its 'cameras' lists them (a scene with one 'camera'
    takes one). Writes frames, history.csv, params.json, fitted.yaml, settings.json, a checkpoint, an animation, plots
    and report.html into the output folder, and prints the fitted values. Ctrl-C stops after the current
    iteration and still writes everything; --resume continues.
    """
    console = Console(stderr=True, quiet=quiet, soft_wrap=True)  # messages stay one line each
    with reported_errors():
        # --- 1. check -------------------------------------------------------------------------------------
        settings = _settings(iterations=iterations, lr=lr, lr_decay=lr_decay, spp=spp, seed=seed, loss=loss.value,
                             decorrelate=not correlated, boundary=not no_boundary, tol=tol, optimizer=optimizer.value,
                             primary_sets=primary_sets, primary_refresh=primary_refresh)
        if not math.isfinite(fps):  # Typer's lower bound lets nan and inf through; the animation would fail at the end
            fail(f"--fps must be a finite number of frames per second (at least 0.1), got {fps}")
        start_scene = raydiff.load_scene(scene)
        _check_reference_count(start_scene, references)
        space = reference_space.value if reference_space is not None else None
        state = None
        if resume is not None:
            given = {"out": out, "lr": lr, "lr_decay": lr_decay, "spp": spp, "loss": loss, "optimizer": optimizer, "seed": seed,
                     "frame_every": frame_every, "reference_space": reference_space, "correlated": correlated,
                     "no_boundary": no_boundary, "iterations": iterations, "tol": tol, "primary_sets": primary_sets,
                     "primary_refresh": primary_refresh}
            state, meta, settings = _resume_state(ctx, resume, scene, references, given, start_scene)
            space, frame_every = meta["reference_space"], meta["frame_every"]
            deterministic = deterministic or bool(meta["backend"].get("deterministic"))
        film = start_scene.film
        refs = [raydiff.read_reference(path, film.width, film.height, space=space) for path in references]
        _require_optimize(start_scene)
        true_scene = raydiff.load_scene(truth) if truth is not None else None
        if true_scene is not None:
            _check_truth(true_scene, start_scene)
        backend = raydiff.init(arch.value, deterministic=deterministic)
        budget.check_fit(start_scene, settings, backend.name, frame_every, animation_every, checkpoint_every,
                         jacobian=jacobian_columns(start_scene, settings))
        if resume is None:
            if out is not None:
                check_output_dir(out, fit_files=(CHECKPOINT, SETTINGS))
            meta = {
                "scene": scene, "scene_sha256": _digest(scene),
                "cameras": [camera.name for camera in start_scene.cameras],
                "references": list(references), "references_sha256": [_digest(path) for path in references],
                "reference_space": space,
                "truth": truth, "frame_every": frame_every, "settings": asdict(settings),
                "raydiff_version": raydiff.__version__,
            }
        meta["backend"] = {**asdict(backend), "description": backend.describe()}

        # --- the folder becomes this fit's: nobody else's fit runs in it until this one ends -----------
        stopper = _StopOnSignal()
        with _claim(out, resume, start_scene.name) as held:
            out_dir = held.path
            try:
                if not held.exclusive:
                    console.print(f"warning: {out_dir}: {held.reason}; the folder is claimed by the process id in "
                                  f"{LOCK} instead, which a fit started at the same instant could miss", style="yellow")
                # --- 2. run ---------------------------------------------------------------------------
                folder = RunFolder(out_dir)
                with stopper:
                    result = _run(start_scene, refs, settings, folder, meta, state, frame_every, checkpoint_every,
                                  quiet or json_out, stopper, console)

                # --- 3. finish ------------------------------------------------------------------------
                    truth_values = plots.truth_values(true_scene, list(result.values)) if true_scene else None
                    written = folder.finish(result, start_scene, meta, truth=true_scene, fps=fps,
                                            animation_every=animation_every, references=refs)
                    written += [CHECKPOINT] + (["frames/"] if folder.frame_paths() else [])
            except BaseException as exc:
                # Ctrl-C before the first iteration: nothing worth keeping, and nothing left behind
                if resume is None and not stopper.started and (stopper.aborted or isinstance(exc, KeyboardInterrupt)):
                    held.abandon([CHECKPOINT])
                raise

    # --- 4. report ------------------------------------------------------------------------------------
    views = [(camera.name, path) for camera, path in zip(start_scene.cameras, references)]
    if json_out:
        typer.echo(_json_summary(result, backend, os.path.normpath(out_dir), truth_values, views))
    elif not quiet:
        for line in _summary(result, backend, os.path.normpath(out_dir), written, truth_values, views):
            typer.echo(line)
    if stopper.signal is not None:
        name = signal.Signals(stopper.signal).name
        if result.stopped:
            console.print(f"stopped by {name}; continue with --resume {out_dir}")
        else:  # the signal came while the results were being written: they were all written
            console.print(f"{name} came while the results were being written; all of them were written, and the "
                          "fit had finished")
        raise typer.Exit(EXIT_SIGNAL[stopper.signal])
