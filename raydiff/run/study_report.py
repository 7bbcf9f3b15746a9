"""A recovery study's outputs: the JSON document, results.csv and a self-contained report.html.

The input is a :class:`raydiff.optim.study.Study` (duck-typed here: this stage imports no Taichi): its
trials, and per trial the error of every free parameter at the start and after the fit
(:func:`raydiff.scene.accuracy.errors`, each with its unit and goal).

**Success**: a trial succeeds when every parameter's fitted error is within its goal (1% of the scene's
size for places, 1% relative for sizes, colours and brightness, 0.5 degree for a field of view, 1 degree
for a direction or rotation).

**The JSON document** (:func:`study_document`, ``raydiff recover --json``), version 1::

    {"version": 1,
     "scene": str, "output": str, "backend": str, "runner": "process" | "ray", "workers": int,
     "trials": int, "sigma": float, "seed": int, "iterations": int (per trial, at most),
     "reference_spp": int,
     "success": {"count": int, "rate": float, "definition": str},
     "seconds": {"total": float, "median_trial": float, "max_trial": float},
     "iterations_run": {"median": float, "max": int},
     "parameters": {KEY: {"unit": str, "goal": float, "median": float, "worst": float, "within": int,
                          "start_median": float}},
     "per_trial": [{"trial": int, "seed": int, "success": bool, "iterations": int, "seconds": float,
                    "final_loss": float | null, "best_loss": float | null, "halvings": int,
                    "errors": {KEY: float}, "start": {PATH: [float]}, "fitted": {PATH: [float]}}]}

KEY is a free parameter's dotted path (``objects.<mesh>.rotation`` for a mesh's axis and angle freed
together); PATH a free parameter's. Every number but the ``seconds`` is a function of the scene, the
settings and the seed: equal however the trials ran (on the CPU backend, bit for bit). Keys may be added
in a later version; none is removed or changes meaning without ``version`` changing.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import os
from typing import Any

import numpy as np

from ..io.files import atomic_write, write_text
from .report import _e, page

VERSION = 1
SUCCESS = "every free parameter's error within its goal"
RESULTS, REPORT = "results.csv", "report.html"


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _floats(value) -> list[float]:
    return [float(x) for x in np.asarray(value, dtype=np.float64).ravel()]


def successes(study) -> list[bool]:
    """Per trial: every error within its goal."""
    return [all(e.within for e in errors.values()) for errors in study.errors]


def error_keys(study) -> list[str]:
    """The error entries, in the free parameters' order."""
    return list(study.errors[0]) if study.errors else []


def parameter_summary(study) -> dict[str, dict[str, Any]]:
    """Per error entry: its unit and goal, the median and worst fitted error, how many trials are within
    the goal, and the median error at the start."""
    out = {}
    for key in error_keys(study):
        fitted = np.array([e[key].value for e in study.errors], dtype=np.float64)
        start = np.array([e[key].value for e in study.start_errors], dtype=np.float64)
        first = study.errors[0][key]
        out[key] = {"unit": first.unit, "goal": first.goal, "median": _finite(np.median(fitted)),
                    "worst": _finite(np.max(fitted)), "within": int(sum(e[key].within for e in study.errors)),
                    "start_median": _finite(np.median(start))}
    return out


def study_document(study, scene_path: str, output: str, reference_spp: int) -> dict[str, Any]:
    """The study as the version-1 JSON document (see the module's docstring)."""
    ok = successes(study)
    seconds = [t.seconds for t in study.trials]
    runs = [t.iterations for t in study.trials]
    return {
        "version": VERSION,
        "scene": scene_path,
        "output": output,
        "backend": study.backend,
        "runner": study.runner,
        "workers": study.workers,
        "trials": len(study.trials),
        "sigma": study.sigma,
        "seed": study.seed,
        "iterations": study.settings.iterations,
        "reference_spp": reference_spp,
        "success": {"count": sum(ok), "rate": sum(ok) / len(ok) if ok else 0.0, "definition": SUCCESS},
        "seconds": {"total": study.seconds, "median_trial": float(np.median(seconds)), "max_trial": float(np.max(seconds))},
        "iterations_run": {"median": float(np.median(runs)), "max": int(np.max(runs))},
        "parameters": parameter_summary(study),
        "per_trial": [
            {"trial": t.index, "seed": t.seed, "success": good, "iterations": t.iterations, "seconds": t.seconds,
             "final_loss": _finite(t.final_loss), "best_loss": _finite(t.best_loss), "halvings": t.halvings,
             "errors": {key: _finite(e.value) for key, e in errors.items()},
             "start": {path: [_finite(x) for x in _floats(v)] for path, v in t.start.items()},
             "fitted": {path: [_finite(x) for x in _floats(v)] for path, v in t.fitted.items()}}
            for t, good, errors in zip(study.trials, ok, study.errors)
        ],
    }


def write_results_csv(path: str | os.PathLike, study) -> None:
    """results.csv: one row per trial: trial, seed, success, iterations, seconds, losses, halvings, every
    error at the start and fitted (``start error <key>``, ``error <key>``), every start and fitted
    component (``start <path>[i]``, ``fitted <path>[i]``). Written atomically."""
    keys = error_keys(study)
    paths = list(study.trials[0].start) if study.trials else []
    sizes = {p: np.asarray(study.trials[0].start[p]).size for p in paths}
    header = ["trial", "seed", "success", "iterations", "seconds", "final_loss", "best_loss", "halvings"]
    header += [f"start error {k}" for k in keys] + [f"error {k}" for k in keys]
    header += [f"start {p}[{i}]" for p in paths for i in range(sizes[p])]
    header += [f"fitted {p}[{i}]" for p in paths for i in range(sizes[p])]
    rows = []
    for t, good, start_errors, errors in zip(study.trials, successes(study), study.start_errors, study.errors):
        row = [t.index, t.seed, int(good), t.iterations, f"{t.seconds:.3f}", repr(float(t.final_loss)),
               repr(float(t.best_loss)), t.halvings]
        row += [repr(start_errors[k].value) for k in keys] + [repr(errors[k].value) for k in keys]
        row += [repr(x) for p in paths for x in _floats(t.start[p])]
        row += [repr(x) for p in paths for x in _floats(t.fitted[p])]
        rows.append(row)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(header)
            out.writerows(rows)

    atomic_write(path, write)


def error_figure(study) -> str:
    """The error distributions as one PNG ``data:`` URI: per error entry, every trial's error at the start
    and after the fit (log scale), the goal as a dashed line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = error_keys(study)
    figure = Figure(figsize=(4.0 * max(len(keys), 1), 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    rng = np.random.default_rng(0)  # the dots' horizontal jitter only
    for i, key in enumerate(keys):
        ax = figure.add_subplot(1, len(keys), i + 1)
        for x, errors, colour in ((0, study.start_errors, "#888888"), (1, study.errors, "#1f77b4")):
            values = np.array([e[key].value for e in errors], dtype=np.float64)
            values = np.where(np.isfinite(values), np.maximum(values, 1e-6), np.nan)
            ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=14, color=colour, alpha=0.8)
            ax.boxplot([values[np.isfinite(values)]], positions=[x], widths=0.45, showfliers=False)
        ax.axhline(study.errors[0][key].goal, color="#b42318", linestyle="--", linewidth=1, label="goal")
        ax.set_yscale("log")
        ax.set_xticks([0, 1], ["start", "fitted"])
        ax.set_title(key, fontsize=9)
        ax.set_ylabel(study.errors[0][key].unit, fontsize=8)
        ax.legend(fontsize=7, loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _n(value, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.{digits}g}"


def render_study_report(document: dict[str, Any], figure_uri: str) -> str:
    """report.html from the JSON document and the error figure: self-contained (no outside resource)."""
    ok = document["success"]
    summary = [
        ("scene", document["scene"]), ("trials", document["trials"]),
        ("success", f"{ok['count']} of {document['trials']} ({100 * ok['rate']:.0f}%): {ok['definition']}"),
        ("perturbation", f"sigma {document['sigma']:g} (relative; places: of the scene's size)"),
        ("seed", document["seed"]), ("iterations per trial", document["iterations"]),
        ("reference", f"{document['reference_spp']} spp render of the scene's values"),
        ("ran on", f"{document['backend']}, {document['runner']} x {document['workers']}"),
        ("seconds", f"{document['seconds']['total']:.1f} in all; per trial median {document['seconds']['median_trial']:.2f}, "
                    f"max {document['seconds']['max_trial']:.2f} (a worker's first trial compiles the kernels)"),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary)
    params = "".join(
        f"<tr><td>{_e(key)}</td><td>{_e(p['unit'])}</td><td class='num'>{_n(p['goal'])}</td>"
        f"<td class='num'>{_n(p['start_median'])}</td><td class='num'>{_n(p['median'])}</td>"
        f"<td class='num'>{_n(p['worst'])}</td><td class='num'>{p['within']} of {document['trials']}</td></tr>"
        for key, p in document["parameters"].items())
    keys = list(document["parameters"])
    trials = "".join(
        f"<tr><td class='num'>{t['trial']}</td><td class='num'>{t['seed']}</td>"
        f"<td class='{'good' if t['success'] else 'bad'}'>{'yes' if t['success'] else 'no'}</td>"
        f"<td class='num'>{t['iterations']}</td><td class='num'>{t['seconds']:.2f}</td>"
        + "".join(f"<td class='num'>{_n(t['errors'][k])}</td>" for k in keys) + "</tr>"
        for t in document["per_trial"])
    title = f"raydiff recover: {os.path.basename(document['scene'])}"
    return page(title, "raydiff recovery study", f"""<h2 id="summary">Summary</h2>
<table id="summary-table">{rows}</table>
<h2 id="parameters">Errors per parameter</h2>
<table id="parameters-table"><tr><th>parameter</th><th>unit</th><th>goal</th><th>start (median)</th>
<th>fitted (median)</th><th>fitted (worst)</th><th>within the goal</th></tr>{params}</table>
<figure><img id="errors-figure" src="{figure_uri}" alt="error distributions, start and fitted">
<figcaption>Every trial's error at the start (grey) and after the fit (blue), log scale; dashed: the goal.</figcaption></figure>
<h2 id="trials">Trials</h2>
<div class="wide"><table id="trials-table"><tr><th>trial</th><th>seed</th><th>success</th><th>iterations</th><th>seconds</th>
{"".join(f"<th>{_e(k)}</th>" for k in keys)}</tr>{trials}</table></div>
""")


def write_study(folder: str | os.PathLike, study, document: dict[str, Any]) -> list[str]:
    """Write results.csv and report.html into ``folder``; returns their names."""
    write_results_csv(os.path.join(folder, RESULTS), study)
    write_text(os.path.join(folder, REPORT), render_study_report(document, error_figure(study)))
    return [RESULTS, REPORT]
