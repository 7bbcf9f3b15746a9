"""How well, and how fast, the example fits recover the truth.

    python benchmarks/recovery.py [--arch cpu] [--scenes three_spheres,box,camera_pose,two_views,mesh_pose,sun]
                                  [--primary-sets K] [--primary-refresh M] [--optimizer auto|adam|lm]
                                  [--seed S | --seeds S1,S2,...]

For each example, runs the same fit as `raydiff fit scenes/<name>.yaml REF... ` with the default settings
(at most 200 iterations, stopping once converged, the default learning rates; the references are assets/<name>_ref.png, or one
assets/<name>_<camera>.png per camera, as examples/make_references.py writes them) and compares every free
parameter with scenes/truth/<name>.yaml, in the units issue 7 states its goals in:

* lengths that are places (a light's or camera's position, a sphere's centre, a mesh's translation): the
  distance, in scene units and in % of the true scene's size (raydiff.scene.parameters.scene_size), and as
  a fraction of the starting error;
* a field of view: degrees;
* a mesh's rotation (its axis and angle together): the angle of the rotation between the fitted and the
  true one, degrees;
* a direction (a directional light's, a rotation axis alone): the angle between them, degrees;
* sizes (a radius, a scale, a quad's edges): relative error; colours and brightness: the largest relative
  error of a channel.

``--primary-sets``, ``--primary-refresh``, ``--optimizer`` and ``--seed`` change those settings (the defaults: FitSettings'), to
compare a fit with and without the primary cache (raydiff/kernels/primary.py) on the same seeds.
``--seeds`` runs every scene's fit once per seed (one process: the kernels compile once) and ends with a
summary: per scene and error, its median and worst over the seeds against the goal, and the median
milliseconds per iteration (compilation included in the first seed's).

Each line also says from which iteration on the error stayed within the goal (1% of the scene's size,
1% relative, 0.5 degree of fov, 1 degree of rotation or direction), read from the fit's history.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import raydiff
from raydiff.run.plots import truth_values
from raydiff.scene import accuracy
from raydiff.scene.accuracy import PLACES, field_of
from raydiff.scene.parameters import scene_size

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ("three_spheres", "box", "camera_pose", "two_views", "mesh_pose", "sun")


def reference_paths(scene) -> list[str]:
    """The example's references, one per camera (the names examples/make_references.py writes)."""
    if not scene.several_views:
        return [os.path.join(ROOT, "assets", f"{scene.name}_ref.png")]
    return [os.path.join(ROOT, "assets", f"{scene.name}_{camera.name}.png") for camera in scene.cameras]


def errors(values: dict, truth: dict, size: float) -> dict[str, tuple[float, str, float]]:
    """Each free parameter's error as (error, unit, goal): :func:`raydiff.scene.accuracy.errors`."""
    return {key: (e.value, e.unit, e.goal) for key, e in accuracy.errors(values, truth, size).items()}


def history_values(result, row: int) -> dict[str, np.ndarray]:
    """The free parameters' values in one row of the fit's history."""
    out, column = {}, 2
    for path, value in result.start.items():
        out[path] = result.history[row, column : column + value.size].astype(np.float64)
        column += value.size
    return out


def within_from(result, truth: dict, size: float) -> dict[str, int | None]:
    """For each error entry, the first iteration from which it stayed within its goal (None: never)."""
    since: dict[str, int | None] = {}
    for row in range(len(result.history)):
        for key, (error, _, goal) in errors(history_values(result, row), truth, size).items():
            if error > goal:
                since[key] = None
            elif since.get(key) is None:
                since[key] = row
    return since


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--scenes", default=",".join(EXAMPLES))
    defaults = raydiff.FitSettings()
    parser.add_argument("--primary-sets", type=int, default=defaults.primary_sets)
    parser.add_argument("--primary-refresh", type=int, default=defaults.primary_refresh)
    parser.add_argument("--optimizer", default=defaults.optimizer)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, one fit each (overrides --seed)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    backend = raydiff.init(args.arch)
    print(f"backend: {backend.describe()}; primary sets {args.primary_sets}, refresh {args.primary_refresh}, "
          f"optimizer {args.optimizer}, "
          f"seeds {','.join(map(str, seeds))}")
    table: dict[tuple[str, str], list[float]] = {}
    goals: dict[tuple[str, str], tuple[str, float]] = {}
    speed: dict[str, list[float]] = {}
    for name in args.scenes.split(","):
        for seed in seeds:
            ms = fit_one(name, args, seed, table, goals)
            speed.setdefault(name, []).append(ms)
    if len(seeds) > 1:
        summary(seeds, table, goals, speed)
    return 0


def fit_one(name: str, args, seed: int, table: dict, goals: dict) -> float:
    """One scene's fit with ``seed``: its lines, its final errors added to ``table``; the ms per iteration."""
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    true_scene = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
    refs = [raydiff.read_reference(p, scene.film.width, scene.film.height) for p in reference_paths(scene)]
    settings = raydiff.FitSettings(primary_sets=args.primary_sets, primary_refresh=args.primary_refresh,
                                   optimizer=args.optimizer, seed=seed)
    t0 = time.perf_counter()
    result = raydiff.fit(scene, refs, settings)
    seconds = time.perf_counter() - t0
    size = scene_size(true_scene)
    truth = truth_values(true_scene, list(result.values))
    views = f", {len(refs)} views" if len(refs) > 1 else ""
    print(f"{name} (seed {seed}): {result.iterations} iterations ({result.ended}) in {seconds:.1f} s "
          f"({1000 * seconds / max(result.iterations, 1):.1f} ms/iteration, compilation included), "
          f"{scene.film.width}x{scene.film.height}, {scene.film.spp} spp{views}; scene size {size:.3g}; "
          f"best iterate {result.best_iteration}")
    for path, value in result.values.items():
        start, want = result.start[path], truth[path]
        line = f"  {path}: {np.round(start, 3)} -> {np.round(value, 4)} (truth {np.round(want, 4)})"
        if field_of(path) in PLACES:
            err, start_err = np.linalg.norm(value - want), np.linalg.norm(start - want)
            line += (f"; error {err:.4f} = {100 * err / size:.3f}% of the scene's size "
                     f"({100 * err / max(start_err, 1e-12):.2f}% of the start's error)")
        print(line)
    start_errors = errors(result.start, truth, size)
    since = within_from(result, truth, size)
    for key, (error, unit, goal) in errors(result.values, truth, size).items():
        when = f"within it from iteration {since[key]}" if since.get(key) is not None else "not within it at the end"
        print(f"  error {key}: {start_errors[key][0]:.3g} -> {error:.3g} {unit} (goal {goal:g}; {when})")
        table.setdefault((name, key), []).append(error)
        goals[(name, key)] = (unit, goal)
    return 1000 * seconds / max(result.iterations, 1)


def summary(seeds: list[int], table: dict, goals: dict, speed: dict) -> None:
    """Per scene and error: every seed's final error, their median and worst, and the goal."""
    print(f"summary over seeds {','.join(map(str, seeds))}: final error per seed; median; worst; goal")
    for (name, key), values in table.items():
        unit, goal = goals[(name, key)]
        each = " ".join(f"{v:.3g}" for v in values)
        print(f"  {name} {key}: {each}; median {np.median(values):.3g}; worst {max(values):.3g} {unit} (goal {goal:g})")
    for name, ms in speed.items():
        print(f"  {name}: median {np.median(ms):.1f} ms/iteration (first seed's includes compilation)")


if __name__ == "__main__":
    sys.exit(main())
