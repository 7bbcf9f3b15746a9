"""A fit's output folder, from the first frame to the report.

The folder is created only once every input has been checked, and claimed by one fit for its whole life
(:mod:`raydiff.io.claim`: the hidden ``.raydiff.lock``, gone again when the fit ends). From then on it is
always worth keeping: the checkpoint is written before the first iteration and refreshed every few
iterations, frames appear as the fit runs, and every file is written atomically, so a fit that dies (or
is stopped) leaves a folder that ``raydiff fit --resume`` continues.
When the fit ends, finished or stopped, :meth:`RunFolder.finish` writes the results::

    frames/00000.png ...   render | reference | error heat map (one row per view), iteration and loss
    history.csv            iteration, loss and every free component (a texture: its mean), one row per iteration
    params.json            the fitted values (the best iterate) by dotted path (a texture: its image file)
    fitted.yaml            the scene with the fitted values
    fitted/                every free texture fitted: <object>_albedo.exr (what fitted.yaml names), .png,
                           and _vs_truth.png beside the true texture (raydiff.run.textures)
    settings.json          the settings, the backend, the timing, how the fit ended
    checkpoint.npz         everything needed to continue (raydiff fit --resume)
    animation.gif          the frames as an animation (and animation.mp4 with imageio-ffmpeg)
    loss.png, parameters.png   the loss curve and each parameter's trajectory (true values dashed)
    report.html           one self-contained page with all of the above, and every view's final
                          render, reference and error
"""

from __future__ import annotations

import glob
import os
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from ..io.checkpoint import save_checkpoint
from ..io.outputs import frame_name, write_history_csv, write_json, write_params_json
from ..scene.description import dump_scene
from ..scene.model import Scene
from . import animation, frames, plots, report, textures
from .background import BackgroundWriter

if TYPE_CHECKING:  # run/ never imports Taichi: the result is only annotated here
    from ..optim.fit import FitResult

CHECKPOINT = "checkpoint.npz"
SETTINGS = "settings.json"


class RunFolder:
    """The output folder of one fit.

    Parameters
    ----------
    path : str
        The folder; created if missing (``frames/`` with the first frame).
    """

    def __init__(self, path: str):
        # ``frames/`` is made with the first frame
        self.path = os.fspath(path)
        self.frames_dir = os.path.join(self.path, "frames")
        os.makedirs(self.path, exist_ok=True)
        self.error_scale: list[float] | None = None  # one per view, fixed by the first frame

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # --- while the fit runs ---------------------------------------------------------------------------
    def write_frame(self, iteration: int, render, reference, loss: float, view_names=None) -> str:
        """Write the composite frame of ``iteration`` (one row per view); returns its path.

        Parameters
        ----------
        iteration : int
            The fit's iteration: it names the file (``frames/00040.png``) and is shown in the frame.
        render : numpy.ndarray or list of numpy.ndarray
            (height, width, 3) linear RGB, the current render; or a list with one per view.
        reference : raydiff.io.images.Reference or list of raydiff.io.images.Reference
            The target (its ``linear`` image is shown; a bare array is accepted too); a list with one per
            view, in the order of ``render``, when ``render`` is a list.
        loss : float
            Shown in the frame.
        view_names : sequence of str, optional
            One name per view, shown at the left of each row when there are several views (default
            ``view 0``, ``view 1``, ...).

        Raises
        ------
        ValueError
            As :func:`raydiff.run.frames.compose_frame` (e.g. not one reference per render), or if the
            number of views differs from that of the first frame.
        OutputError
            If the file cannot be written.

        Notes
        -----
        The heat map's scales are fixed by the first frame written: ``self.error_scale`` becomes a list
        with one scale per view, each :func:`raydiff.run.frames.default_error_scale` of that view, so that
        every later frame shows the error fading against the same scale.
        """
        renders = list(render) if isinstance(render, (list, tuple)) else [render]
        references = list(reference) if isinstance(reference, (list, tuple)) else [reference]
        references = [getattr(view, "linear", view) for view in references]
        if len(renders) != len(references):
            raise ValueError(
                f"render has {len(renders)} view(s) but reference has {len(references)}: "
                "give one reference per render"
            )
        if self.error_scale is None:
            self.error_scale = [frames.default_error_scale(r, f) for r, f in zip(renders, references)]
        elif len(self.error_scale) != len(renders):
            raise ValueError(
                f"this frame has {len(renders)} view(s) but the first frame had {len(self.error_scale)}: "
                "every frame of a fit must show the same views"
            )
        os.makedirs(self.frames_dir, exist_ok=True)
        path = os.path.join(self.frames_dir, frame_name(iteration))
        frames.write_composite_frame(
            path, renders, references, iteration, loss, error_scale=self.error_scale, view_names=view_names
        )
        return path

    def frame_paths(self) -> list[str]:
        return sorted(glob.glob(os.path.join(self.frames_dir, "[0-9]" * 5 + ".png")))

    def write_checkpoint(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        save_checkpoint(self.file(CHECKPOINT), arrays, meta)

    # --- at the end -----------------------------------------------------------------------------------
    def finish(
        self,
        result: FitResult,
        scene: Scene,
        meta: dict,
        truth: Scene | None = None,
        fps: float = 10.0,
        animation_every: int = 1,
        references=None,
    ) -> list[str]:
        """Write the results of ``result`` (see the module's docstring); returns the names written.

        ``meta`` (scene and reference files, backend, how the fit ended ...) goes into settings.json and
        the report. ``references`` (one :class:`raydiff.io.images.Reference` per view, in the order of
        ``result.final_images``) puts every view's final render, reference and error in the report, named
        by ``result.view_names``, with the error scale of the frames.

        Raises
        ------
        ValueError
            If ``references`` is not one per view of the result.
        """
        written = []

        def wrote(name: str) -> str:
            written.append(name)
            return self.file(name)

        shapes = textures.texture_shapes(scene, result.values)  # free textures: written as images
        write_history_csv(wrote("history.csv"), result.columns, result.history)
        write_params_json(wrote("params.json"), {
            path: f"{textures.FITTED_DIR}/{textures.file_name(path)}.exr" if path in shapes else value
            for path, value in result.values.items()})
        dump_scene(scene, wrote("fitted.yaml"), values=result.values)
        settings = {**meta, "settings": asdict(result.settings), **self._outcome(result)}
        write_json(wrote(SETTINGS), settings)

        truth_values = plots.truth_values(truth, list(result.values)) if truth is not None else {}
        fitted_textures = textures.write_textures(self.path, shapes, result.values, truth_values)
        if shapes:
            written.append(textures.FITTED_DIR + "/")
        texture_truth = {path: truth_values.pop(path) for path in shapes if path in truth_values}
        truth_values.update({f"{path}.mean": textures.texture_mean(value, shapes[path])
                             for path, value in texture_truth.items() if np.size(value) == np.prod(shapes[path])})
        images = {}
        frame_paths = self.frame_paths()
        movies = (["animation.gif"] + (["animation.mp4"] if animation.ffmpeg_available() else [])) if frame_paths else []
        with BackgroundWriter() as animations:  # the animations are encoded while the plots are drawn
            for name, write in zip(movies, (animation.write_gif, animation.write_mp4)):
                animations.submit(write, frame_paths, self.file(name), fps=fps, every=animation_every)
            if len(result.history):
                plots.plot_loss(result.columns, result.history, wrote("loss.png"))
                plots.plot_parameters(result.columns, result.history, wrote("parameters.png"), truth=truth_values or None)
                images = {"loss": self.file("loss.png"), "parameters": self.file("parameters.png")}
        written += movies
        if frame_paths:
            images["final frame"] = frame_paths[-1]
            images["animation"] = self.file("animation.gif")

        for t in fitted_textures:
            images[f"{t['path']}: fitted" + (" | truth" if t["comparison"] else "")] = t["comparison"] or t["image"]
        parameters = [
            {
                "path": path,
                "start": [float(x) for x in result.start[path]],
                "final": [float(x) for x in value],
                "truth": [float(x) for x in truth_values[path]] if path in truth_values else None,
            }
            if path not in shapes else
            {
                "path": f"{path} (mean)",
                "start": [float(x) for x in textures.texture_mean(result.start[path], shapes[path])],
                "final": [float(x) for x in textures.texture_mean(value, shapes[path])],
                "truth": ([float(x) for x in truth_values[f"{path}.mean"]] if f"{path}.mean" in truth_values
                          else None),
            }
            for path, value in result.values.items()
        ]
        notes = self._notes(result) + [
            f"{t['path']} is a {shapes[t['path']][1]} x {shapes[t['path']][0]} texture, written to {t['file']}"
            + (f"; PSNR against the truth {t['psnr']:.2f} dB." if t["psnr"] is not None else ".")
            for t in fitted_textures]
        views = self._views(result, scene, meta, references)
        scene_yaml = _read_text(scene.source)
        report.write_report(
            wrote("report.html"),
            title=f"raydiff fit: {scene.name}",
            scene_yaml=scene_yaml,
            settings=settings,
            parameters=parameters,
            loss_first=float(result.history[0, 1]) if len(result.history) else float("nan"),
            loss_final=result.final_loss,
            images=images,
            backend=str(meta.get("backend", {}).get("description", result.backend)),
            seconds=result.seconds,
            iterations=result.iterations,
            notes=notes,
            views=views,
        )
        return written

    def _views(self, result: FitResult, scene: Scene, meta: dict, references) -> list[dict]:
        """The report's views: per camera, its name, final render, reference and error scale."""
        if references is None:
            return []
        references = list(references) if isinstance(references, (list, tuple)) else [references]
        renders = list(result.final_images)
        if len(references) != len(renders):
            raise ValueError(f"the result has {len(renders)} view(s) but {len(references)} reference(s) were given: "
                             "give one reference per view")
        names = list(getattr(result, "view_names", None) or [camera.name for camera in scene.cameras])
        weights = {camera.name: camera.weight for camera in scene.cameras}
        files = list(meta.get("references") or [getattr(ref, "path", None) for ref in references])
        scales = self.error_scale if self.error_scale and len(self.error_scale) == len(renders) else [None] * len(renders)
        return [
            {"name": name, "render": render, "reference": reference, "error_scale": scale,
             "reference_file": str(file) if file else None, "weight": weights.get(name)}
            for name, render, reference, scale, file in zip(names, renders, references, scales, files + [None] * len(renders))
        ]

    @staticmethod
    def _outcome(result: FitResult) -> dict:
        return {
            "iterations_run": result.iterations,
            "stopped_early": result.stopped,
            "ended": result.ended,
            "optimizer": result.optimizer,
            "stop_criterion": stop_criterion(result.settings),
            "best_iteration": result.best_iteration,
            "best_loss": result.best_loss,
            "final_loss": result.final_loss,
            "halvings": result.halvings,
            "seconds": result.seconds,
        }

    @staticmethod
    def _notes(result: FitResult) -> list[str]:
        notes = []
        if result.stopped:
            notes.append(f"Stopped after {result.iterations} of {result.settings.iterations} iterations; "
                         "`raydiff fit ... --resume` continues.")
        if result.ended == "converged":
            notes.append(f"Converged after {result.iterations} iterations (of at most {result.settings.iterations}): "
                         f"{stop_criterion(result.settings)}.")
        lm = result.optimizer == "lm"
        if result.halvings:
            notes.append(f"The loss or a gradient was not finite {result.halvings} time(s): the fit rolled back "
                         + ("and damped its steps harder each time." if lm else
                            "to its best parameters and halved the learning rates each time."))
        if result.best_iteration >= 0 and lm:
            notes.append(f"Fitted by Levenberg-Marquardt: the values are the last accepted step's (iteration "
                         f"{result.best_iteration}, loss {result.best_loss:.6g} on its trial samples).")
        elif result.best_iteration >= 0:
            notes.append(f"Fitted values are the best iterate (iteration {result.best_iteration}, "
                         f"loss {result.best_loss:.6g}), not necessarily the last.")
        return notes


def stop_criterion(settings) -> str:
    """The stop criterion of ``settings`` (a FitSettings) in words, as settings.json records it
    (:mod:`raydiff.optim.converge` is the criterion)."""
    if settings.tol <= 0:
        return f"none (tol 0): the fit runs all its {settings.iterations} iterations"
    w = settings.window
    return (f"every {w} iterations from {2 * w} on, the means over the last {w} iterations against those over the "
            f"{w} before: stop when the mean loss fell by less than {10 * settings.tol:g} of itself and every free "
            f"component's mean moved by at most {settings.tol:g} of its scale (the scene's size for places, 1 for "
            f"unit directions, else its own magnitude)")


def _read_text(path: str) -> str:
    """The scene file's text for the report ('' for scenes that came from a string)."""
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()
