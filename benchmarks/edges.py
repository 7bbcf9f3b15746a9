"""What the boundary terms cost, and what they change in the example fits.

    python benchmarks/edges.py [--arch cpu] [--scenes shadow_only,sun_shadow,...] [--skip-cost] [--skip-fits]

For every example (scenes/<name>.yaml with its references in assets/ and its truth in scenes/truth/):

1. **cost**: the median wall time of one fit iteration (render, loss, gradient, Adam step) with the
   boundary terms and without (``FitSettings(boundary=False)``, what ``raydiff fit --no-boundary`` does),
   compilation excluded (3 warm-up iterations, then the median of 30), and the boundary pass's share;
2. **fits**: the example's fit with the default settings (200 iterations), with and without the boundary
   terms: every parameter's error at the end, in the units of issue 7 (benchmarks/recovery.py), from
   which iteration on it stayed within its goal, and from which iteration on all did.

Each example runs in its own process (a long run of many fits in one Taichi runtime has crashed).
The examples of issue 8 (shadow_only, sun_shadow, outline_pose) are built so that shadows and outlines
are the only cue; those of issues 3 and 7 have shading that carries most of the signal, and show whether
the boundary terms cost any convergence there.
"""

import argparse
import os
import subprocess
import sys

import raydiff
from raydiff.optim.fit import Fitter, FitSettings
from raydiff.run.plots import truth_values
from raydiff.scene.parameters import scene_size

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import median_ms  # noqa: E402
from recovery import ROOT, errors, reference_paths, within_from  # noqa: E402

EDGE_EXAMPLES = ("shadow_only", "sun_shadow", "outline_pose")
EXAMPLES = EDGE_EXAMPLES + ("three_spheres", "box", "camera_pose", "two_views", "mesh_pose", "sun")


def load(name: str):
    """The example's starting scene, its true scene and its references."""
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    truth = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
    refs = [raydiff.read_reference(p, scene.film.width, scene.film.height) for p in reference_paths(scene)]
    return scene, truth, refs


def iteration_ms(scene, refs, boundary: bool) -> float:
    fitter = Fitter(scene, refs, FitSettings(iterations=40, boundary=boundary, optimizer="adam"))
    return median_ms(fitter.step, 30, warmup=3)


def cost(name: str) -> None:
    scene, _, refs = load(name)
    on, off = iteration_ms(scene, refs, True), iteration_ms(scene, refs, False)
    share = 100 * (on - off) / on if on > 0 else 0.0
    print(f"{name}: {scene.film.width}x{scene.film.height}, {scene.film.spp} spp: {on:.2f} ms/iteration with "
          f"boundary terms, {off:.2f} without (the boundary pass {on - off:+.2f} ms, {share:.0f}% of the iteration)")


def fits(name: str) -> None:
    scene, true_scene, refs = load(name)
    size = scene_size(true_scene)
    for boundary in (True, False):
        settings = FitSettings(boundary=boundary, optimizer="adam")  # the boundary terms are the gradient's
        result = raydiff.fit(scene, refs, settings)
        truth = truth_values(true_scene, list(result.values))
        start = errors(result.start, truth, size)
        since = within_from(result, truth, size)
        label = "with boundary terms   " if boundary else "without (--no-boundary)"
        parts = []
        for key, (error, unit, goal) in errors(result.values, truth, size).items():
            when = f"within from iteration {since[key]}" if since.get(key) is not None else "never within"
            parts.append(f"{key} {start[key][0]:.3g} -> {error:.3g} {unit} (goal {goal:g}; {when})")
        whole = None if any(since.get(key) is None for key in start) else max(since[key] for key in start)
        fit = f"all within from iteration {whole}" if whole is not None else "not all within at the end"
        print(f"{name} {label}: {settings.iterations} iterations, {fit}; " + "; ".join(parts), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--scenes", default=",".join(EXAMPLES))
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-fits", action="store_true")
    args = parser.parse_args()
    names = args.scenes.split(",")
    if len(names) > 1:  # one process per example: a long run of many fits in one Taichi runtime has crashed
        flags = ["--arch", args.arch] + (["--skip-cost"] if args.skip_cost else []) + (["--skip-fits"] if args.skip_fits else [])
        codes = [subprocess.run([sys.executable, __file__, "--scenes", name, *flags]).returncode for name in names]
        return max(codes)
    backend = raydiff.init(args.arch)
    print(f"{names[0]}: backend {backend.describe()}", flush=True)
    if not args.skip_cost:
        cost(names[0])
    if not args.skip_fits:
        fits(names[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
