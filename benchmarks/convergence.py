"""How many iterations, and seconds, the default fit needs to reach 0.5% on every example scene.

    python benchmarks/convergence.py [--arch cpu] [--scenes three_spheres,two_lights,...] [--methods before,after,lm]

For each scene (scenes/<name>.yaml, its truth scenes/truth/<name>.yaml and its references in assets/, made
by examples/make_references.py) and each method, runs the fit and reads its history row by row. **0.5%**
means every free parameter within 0.5% of the truth, each in its own units (:func:`errors`):

* a place (a light's or camera's position or look-at point, a sphere's centre, a quad's corner, a mesh's
  translation): the distance to the truth over the true scene's size (raydiff.scene.parameters.scene_size);
* a direction (a directional light's, a rotation axis alone) and a mesh's rotation (axis and angle
  together): the angle to the truth in radians (0.5% of a radian is 0.29 degrees: a point at distance d
  moves by 0.5% of d);
* a field of view, a radius, a scale, a quad's edge, an albedo, an intensity or irradiance: the error
  relative to the true value (the largest over the channels for colours and brightness).

A fit "reaches 0.5%" at the first iteration from which every error stays within it until the fit ends
(the values of the history rows: the parameters each iteration rendered with); the seconds are the wall
time from the fit's start to that iteration's end, kernel compilation included. The table also gives how
the fit ended (``converged`` at iteration k: the stop criterion fired; ``iterations``: it ran its cap) and
the error of the returned values (the best iterate: the lowest loss seen) and of the last ones.

Methods: ``before`` is the default fit of raydiff before issue 10 (Adam with beta2 0.999, constant learning
rates, the field of view's default rate 0.5 degree, 200 iterations, no stop criterion:
``FitSettings(iterations=200, lr_decay=1.0, beta2=0.999, tol=0)``); ``after`` is issue 10's defaults with
Adam, ``FitSettings(optimizer="adam")`` (beta2 0.9, rates decaying by 0.98 an iteration, the stop
criterion with tol 0.001, at most 200 iterations); ``lm`` is today's default ``FitSettings()``, which
for these scenes (at most 12 free scalars) is Levenberg-Marquardt (:mod:`raydiff.optim.levenberg`) with
the same stop criterion and cap.

    python benchmarks/convergence.py --methods after,lm   # both, scene by scene, under the same load
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import raydiff  # noqa: E402
from raydiff.run.plots import truth_values  # noqa: E402
from raydiff.scene.parameters import scene_size  # noqa: E402
from raydiff.scene import accuracy  # noqa: E402
from recovery import history_values, reference_paths  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENES = ("three_spheres", "box", "camera_pose", "two_views", "mesh_pose", "sun", "shadow_only", "sun_shadow",
          "outline_pose", "two_lights", "mesh_light")
GOAL = 0.005


def errors(values: dict, truth: dict, size: float) -> dict[str, float]:
    """Each free parameter's error as a fraction (see the module's docstring): raydiff.scene.accuracy's
    errors (a mesh's rotation axis and angle one entry, ``objects.<name>.rotation``, when both are free)
    with degrees as radians, percentages as fractions, and a field of view relative to the true one."""
    out = {}
    for path, error in accuracy.errors(values, truth, size).items():
        if accuracy.field_of(path) == "fov":
            out[path] = error.value / abs(float(np.ravel(truth[path])[0]))
        elif error.unit == "degrees":
            out[path] = math.radians(error.value)
        else:  # a percentage: of the scene's size, relative, or of the largest channel
            out[path] = error.value / 100.0
    return out


def reached_at(result, truth: dict, size: float) -> int | None:
    """The first iteration from which every error stays within :data:`GOAL` to the end (None: never)."""
    since = None
    for row in range(len(result.history)):
        worst = max(errors(history_values(result, row), truth, size).values())
        if worst > GOAL:
            since = None
        elif since is None:
            since = row
    return since


def method_settings(method: str) -> raydiff.FitSettings:
    if method == "before":
        return raydiff.FitSettings(iterations=200, lr_decay=1.0, beta2=0.999, tol=0.0)
    if method == "after":
        return raydiff.FitSettings(optimizer="adam")
    if method == "lm":
        return raydiff.FitSettings()
    raise SystemExit(f"unknown method {method!r}: before, after, lm")


METHOD_NAMES = {"before": "before: Adam, v1 rates, 200 it.", "after": "after: Adam, issue 10", "lm": "lm: defaults"}


#: The default learning rates that changed with issue 10, as they were (``before`` fits with them).
V1_RATES = {"fov": 0.5}


def with_v1_rates(scene):
    """The scene with every free parameter whose default rate changed given its old rate explicitly."""
    entries = []
    for entry in scene.optimize:
        field = accuracy.field_of(entry.path)
        entries.append(dataclasses.replace(entry, lr=V1_RATES[field]) if field in V1_RATES and entry.lr is None else entry)
    return dataclasses.replace(scene, optimize=tuple(entries))


def run(name: str, method: str) -> dict:
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    if method == "before":
        scene = with_v1_rates(scene)
    true_scene = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
    refs = [raydiff.read_reference(p, scene.film.width, scene.film.height) for p in reference_paths(scene)]
    settings = method_settings(method)
    ends: list[float] = []
    t0 = time.perf_counter()
    result = raydiff.fit(scene, refs, settings, callback=lambda it: ends.append(time.perf_counter() - t0))
    size = scene_size(true_scene)
    truth = truth_values(true_scene, list(result.values))
    at = reached_at(result, truth, size)
    return {"scene": name, "method": METHOD_NAMES[method], "reached": at,
            "seconds": ends[at] if at is not None else None, "ran": result.iterations,
            "ended": getattr(result, "ended", "iterations"), "total_seconds": result.seconds,
            "final_error": max(errors(result.values, truth, size).values()),
            "last_error": max(errors(result.last_values, truth, size).values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--methods", default="before,after,lm")
    args = parser.parse_args()
    backend = raydiff.init(args.arch)
    print(f"backend: {backend.describe()}; goal: every free parameter within {100 * GOAL:g}% (benchmarks/convergence.py)")
    print("| scene | method | iterations to 0.5% | seconds to 0.5% | ended | iterations run (s) | error: best iterate / last |")
    print("|---|---|---|---|---|---|---|")
    for name in args.scenes.split(","):
        for method in args.methods.split(","):
            r = run(name, method)
            reached = str(r["reached"]) if r["reached"] is not None else f"not in {r['ran']}"
            seconds = f"{r['seconds']:.1f}" if r["seconds"] is not None else "-"
            ended = f"converged at {r['ran']}" if r["ended"] == "converged" else r["ended"]
            print(f"| {name} | {r['method']} | {reached} | {seconds} | {ended} | {r['ran']} ({r['total_seconds']:.1f} s) "
                  f"| {100 * r['final_error']:.2f}% / {100 * r['last_error']:.2f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
