"""How well, and how fast, the example fits recover the truth.

    python benchmarks/recovery.py [--arch cpu] [--scenes three_spheres,box]

For each example, runs the same fit as `raydiff fit scenes/<name>.yaml assets/<name>_ref.png` (default
settings) and compares every free parameter with scenes/truth/<name>.yaml: a position's error in scene
units and relative to its distance from the origin, other parameters' largest relative error per channel.
"""

import argparse
import os
import sys
import time

import numpy as np

import raydiff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def true_value(truth, path: str) -> np.ndarray:
    group, name, field = path.split(".")
    element = truth.light(name) if group == "lights" else truth.object(name)
    return np.asarray(getattr(element, field), dtype=np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--scenes", default="three_spheres,box")
    args = parser.parse_args()
    backend = raydiff.init(args.arch)
    print(f"backend: {backend.describe()}")
    for name in args.scenes.split(","):
        scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
        truth = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
        ref = raydiff.read_reference(os.path.join(ROOT, "assets", f"{name}_ref.png"), scene.film.width, scene.film.height)
        settings = raydiff.FitSettings()
        t0 = time.perf_counter()
        result = raydiff.fit(scene, ref, settings)
        seconds = time.perf_counter() - t0
        print(f"{name}: {settings.iterations} iterations in {seconds:.1f} s "
              f"({1000 * seconds / settings.iterations:.1f} ms/iteration, compilation included)")
        for path, value in result.values.items():
            want, start = true_value(truth, path), result.start[path]
            if path.endswith(".position"):
                err = np.linalg.norm(value - want)
                print(f"  {path}: {np.round(start, 3)} -> {np.round(value, 4)} (truth {want}); "
                      f"error {err:.4f} = {100 * err / np.linalg.norm(want):.2f}% of |truth|, "
                      f"{100 * err / np.linalg.norm(start - want):.2f}% of the start's error")
            else:
                rel = np.max(np.abs(value - want) / np.maximum(np.abs(want), 1e-6))
                print(f"  {path}: {np.round(start, 3)} -> {np.round(value, 4)} (truth {want}); "
                      f"largest relative error {100 * rel:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
