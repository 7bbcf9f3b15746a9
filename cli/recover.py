"""``raydiff recover``: a recovery study. How often, and how well, fits from perturbed starts find the
scene's own values.

1. **check**: the options, the scene (with an 'optimize' section), Ray (with ``--ray``), the backend, the
   memory, the output folder. Any problem is one error line, and nothing has been written. Then the folder
   is claimed (:mod:`raydiff.io.claim`) as a fit claims its own.
2. **run**: the reference rendered from the scene's values (:func:`raydiff.optim.study.render_references`),
   then the trials, in ``--workers`` processes or on Ray (:mod:`raydiff.optim.study`), with a progress
   bar. Ctrl-C (or SIGINT, even where the command started with it ignored) ends every worker within
   seconds, takes the folder back and exits with 130.
3. **finish**: results.csv, report.html and study.json in the folder (:mod:`raydiff.run.study_report`), and
   a summary on stdout (or ``--json``: the version-1 document).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import raydiff
from raydiff.io.claim import LOCK, FolderBusy, claim
from raydiff.io.outputs import check_output_dir, default_output_dir, write_json
from raydiff.optim import study as studies
from raydiff.run import budget, study_report
from raydiff.scene.limits import MAX_SEED
from raydiff.scene.accuracy import errors as accuracy_errors
from raydiff.scene.parameters import resolve_all, scene_size

from .fit import _require_optimize, _settings, jacobian_columns
from .messages import ARCH_HELP, Arch, ctrl_c_even_if_ignored, fail, reported_errors

#: What a study writes into its folder besides the report's files.
DOCUMENT = "study.json"
DEFAULT_SIGMA = 0.1


def _check(trials: int, perturb: float, seed: int, workers: Optional[int], ray: Optional[str]) -> None:
    if not (math.isfinite(perturb) and 0 < perturb <= 1):
        fail(f"--perturb must be a relative size in (0, 1] (0.1: 10% of each value, of the scene's size for "
             f"places), got {perturb:g}")
    if seed > MAX_SEED:
        fail(f"--seed must be in [0, {MAX_SEED}] (seeds are 32 bits), got {seed}")
    if trials > 100_000:
        fail(f"--trials must be at most 100000, got {trials}")
    if ray is not None:
        if not ray.strip():
            fail("--ray expects 'local', 'auto' or a cluster's address (ray://host:10001), got an empty one")
        if not studies.ray_available():
            fail(f"--ray {ray}: {studies.INSTALL_RAY}")


def _claim(out: Optional[str], scene_name: str):
    if out is not None:
        return claim(out, new=True)
    for _ in range(100):
        try:
            return claim(default_output_dir(f"recover-{scene_name}"), new=True, must_create=True)
        except (FileExistsError, FolderBusy):
            continue
    return claim(default_output_dir(f"recover-{scene_name}"), new=True)


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[ok]}"),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=quiet)


def _median_iterations(document: dict) -> str:
    runs = sorted(t["iterations"] for t in document["per_trial"])
    return f"{(runs[(len(runs) - 1) // 2] + runs[len(runs) // 2]) / 2:g}" if runs else "-"


def _summary(document: dict, written: list[str]) -> list[str]:
    ok = document["success"]
    seconds = document["seconds"]
    lines = [
        f"scene       {document['scene']}",
        f"backend     {document['backend']} ({document['runner']} x {document['workers']})",
        f"trials      {document['trials']}, perturbation {document['sigma']:g}, seed {document['seed']}, "
        f"at most {document['iterations']} iterations each (median {_median_iterations(document)} run: a fit "
        "stops once converged)",
        f"success     {ok['count']} of {document['trials']} ({100 * ok['rate']:.0f}%): {ok['definition']}",
        f"time        {seconds['total']:.1f} s in all; per trial median {seconds['median_trial']:.2f} s, "
        f"max {seconds['max_trial']:.2f} s",
        "",
    ]
    rows = [("parameter", "goal", "start median", "fitted median", "worst", "within")]
    for key, p in document["parameters"].items():
        rows.append((key, f"{p['goal']:g} {p['unit']}", _g(p["start_median"]), _g(p["median"]), _g(p["worst"]),
                     f"{p['within']}/{document['trials']}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines += ["", f"wrote {document['output']}/ ({', '.join(written)})"]
    return lines


def _g(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def recover(
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The scene (YAML, with an 'optimize' section); its "
                                                               "values are the truth.", show_default=False)],
    trials: Annotated[int, typer.Option(metavar="N", min=1, help="Fits, each from its own perturbed start.")] = 20,
    perturb: Annotated[float, typer.Option(
        metavar="SIGMA", help="Relative size of the perturbation: places move by SIGMA times the scene's size, "
                              "other values by SIGMA times themselves (clipped onto their bounds).")] = DEFAULT_SIGMA,
    seed: Annotated[int, typer.Option(metavar="S", min=0, help="The study's seed; every trial's start and samples "
                                                               "derive from it and the trial's number.")] = 0,
    workers: Annotated[Optional[int], typer.Option(
        metavar="W", min=1, help="Processes (or, with --ray, Ray actors) running trials at once.",
        show_default="the number of cores (with --ray: the cluster's CPUs)")] = None,
    ray: Annotated[Optional[str], typer.Option(
        "--ray", metavar="ADDRESS", help="Run the trials on Ray: 'local' (a Ray instance for this study), 'auto' "
                                         "(the cluster this machine joined with `ray start`) or a cluster's address.",
        show_default=False)] = None,
    iterations: Annotated[int, typer.Option(metavar="N", help="Optimiser steps per trial.")] = raydiff.FitSettings().iterations,
    spp: Annotated[Optional[int], typer.Option(metavar="N", help="Samples per pixel while fitting.",
                                               show_default="the scene's film.spp")] = None,
    arch: Annotated[Arch, typer.Option(help=ARCH_HELP)] = Arch.auto,
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", metavar="DIR", help="Output folder, new or empty.", show_default="outputs/recover-<scene>-<time>")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the study as JSON (version 1) on stdout.")] = False,
) -> None:
    """Recovery study: render SCENE's reference from its own values, then fit its free parameters N times
    from starts perturbed at random, and report how often and how closely each fit found the truth.

    Writes results.csv (one row per trial), study.json and report.html (error distributions) into the
    output folder. The same scene, options and --seed give the same numbers for any --workers, Ray or
    not (on the CPU backend, bit for bit).
    """
    with ctrl_c_even_if_ignored(), reported_errors():
        # --- 1. check ---------------------------------------------------------------------------------
        settings = _settings(iterations=iterations, spp=spp)
        _check(trials, perturb, seed, workers, ray)
        truth = raydiff.load_scene(scene)
        _require_optimize(truth)
        resolve_all(truth)  # every 'optimize' entry valid: a SceneError names it
        backend = raydiff.init(arch.value)
        if studies.deterministic_for(backend.name):
            backend = raydiff.init(backend.name, deterministic=True)
        budget.check_fit(truth, settings, backend.name, jacobian=jacobian_columns(truth, settings))
        if out is not None:
            check_output_dir(out)
        n_workers = workers if workers is not None else (None if ray is not None else studies.default_workers())

        # --- 2. run -------------------------------------------------------------------------------------
        held = _claim(out, truth.name)
        try:
            out_dir = held.path
            begin = time.perf_counter()
            references = studies.render_references(truth, seed)
            spec = studies.StudySpec(truth, references, settings, perturb, seed, backend.name)
            progress = _progress(quiet or json_out)
            good = [0]
            with progress:
                task = progress.add_task("trials", total=trials, ok="")
                size = scene_size(truth)
                truth_values = {r.path: r.start for r in resolve_all(truth)}

                def on_trial(trial) -> None:
                    good[0] += all(e.within for e in accuracy_errors(trial.fitted, truth_values, size).values())
                    progress.update(task, advance=1, ok=f"{good[0]} recovered")

                if ray is not None:
                    done, used = studies.run_on_ray(spec, trials, ray, n_workers, on_trial)
                    runner = "ray"
                else:
                    done = studies.run_trials(spec, trials, n_workers, on_trial)
                    runner, used = "process", min(n_workers, trials)
            result = studies.summarise(spec, done, backend.name, runner, used, time.perf_counter() - begin)

            # --- 3. finish ----------------------------------------------------------------------------
            document = study_report.study_document(result, scene, os.path.normpath(out_dir), studies.reference_spp(truth))
            written = study_report.write_study(out_dir, result, document)
            write_json(os.path.join(out_dir, DOCUMENT), document)
            written.append(DOCUMENT)
        except BaseException:
            held.abandon([study_report.RESULTS, study_report.REPORT, DOCUMENT])
            raise
        held.release()

    if json_out:
        typer.echo(json.dumps(document))
    elif not quiet:
        for line in _summary(document, written):
            typer.echo(line)
