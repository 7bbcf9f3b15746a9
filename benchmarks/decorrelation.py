"""What independent samples for the gradient change: recovery at low spp, correlated vs decorrelated.

    python benchmarks/decorrelation.py [--scenes three_spheres,box] [--spp 1,2,4] [--seeds 3]
                                       [--iterations 200] [--arch cpu]
    python benchmarks/decorrelation.py --gradient-noise [--scenes ...] [--spp 16,64,256] [--seeds 3]

For each example scene (scenes/<name>.yaml against assets/<name>_ref.png, truth in scenes/truth/) and
each spp, fits with ``FitSettings(decorrelate=False)`` (the gradient from the render's own samples, the
behaviour before) and with ``decorrelate=True`` (the default: independent samples), from several seeds.
The gradient of the L2 loss from the render's own samples is biased by O(1/spp): it minimises the loss of
the noisy render, ``(E[I] - R)^2 + Var(I)``, and the variance, which grows with brightness, pulls
intensities and albedos down. Independent samples remove that term.

At low spp the iterates keep jittering around their fixed point, so the estimate compared with the
truth is the mean of the last quarter of the iterates (from the history), as well as the best iterate.
Errors: a position's distance in % of the scene's size, anything else the largest relative error of a
component; the line gives the mean over the seeds (and the worst), and the fit's ms per iteration.

``--gradient-noise`` measures instead what ``raydiff gradcheck`` must live with: at each spp, the
relative L2 difference, per parameter, between the decorrelated shading gradient (no boundary terms) of
a seed and the correlated one of the same forward seed (which is what the finite difference with common
random numbers differentiates, visibility changes aside), as the mean and worst over the seeds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACES = ("position", "look_at", "center", "origin", "translate")


def is_place(path: str) -> bool:
    return path.split(".")[-1] in PLACES


def error(path: str, value: np.ndarray, truth: np.ndarray, size: float) -> float:
    """A position's distance in % of the scene's size; otherwise the largest relative error, in %."""
    if is_place(path):
        return 100.0 * float(np.linalg.norm(value - truth)) / size
    return 100.0 * float(np.max(np.abs(value - truth) / np.maximum(np.abs(truth), 1e-6)))


def gradient_noise(args) -> int:
    import raydiff
    from raydiff.device.scene import DeviceScene
    from raydiff.kernels.integrator import Integrator
    from raydiff.optim.gradient import LossGradient
    from raydiff.optim.loss import ImageLoss
    from raydiff.scene.parameters import resolve_all

    backend = raydiff.init(args.arch)
    print(f"decorrelated vs correlated shading gradient, relative L2 difference per parameter "
          f"(mean / worst over {args.seeds} seeds); backend {backend.describe()}")
    for name in args.scenes.split(","):
        scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
        refs = [raydiff.read_reference(os.path.join(ROOT, "assets", f"{name}_ref.png"), scene.film.width,
                                       scene.film.height)]
        free = resolve_all(scene)
        dev = DeviceScene(scene, free)
        print(f"\n{name} ({scene.film.width}x{scene.film.height})")
        for spp in [int(s) for s in args.spp.split(",")]:
            integrator = Integrator(dev, spp=spp)
            loss = ImageLoss(integrator.image, [r.linear for r in refs], "mse", clamp=[r.low_dynamic_range for r in refs])
            grads = {}
            for decorrelate in (False, True):
                gradient = LossGradient(integrator, loss, decorrelate=decorrelate)
                rows = []
                for seed in range(args.seeds):
                    gradient(seed)
                    rows.append(dev.pool.grad.to_numpy()[dev.free_offsets].astype(np.float64))
                grads[decorrelate] = np.array(rows)
            cells, i = [], 0
            for r in free:
                a, b = grads[True][:, i : i + r.kind.size], grads[False][:, i : i + r.kind.size]
                i += r.kind.size
                rel = np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)
                cells.append(f"{r.path.split('.', 1)[1]} {100 * rel.mean():5.2f}% / {100 * rel.max():5.2f}%")
            print(f"  spp {spp:4d}  " + "   ".join(cells), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", default="three_spheres,box")
    parser.add_argument("--spp", default="1,2,4")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--gradient-noise", action="store_true")
    args = parser.parse_args()
    if args.gradient_noise:
        return gradient_noise(args)

    import raydiff
    from raydiff.run.plots import truth_values
    from raydiff.scene.parameters import scene_size

    backend = raydiff.init(args.arch)
    print(f"recovery after {args.iterations} iterations, mean of the last quarter of the iterates "
          f"(best iterate in brackets), over {args.seeds} seeds; backend {backend.describe()}")
    for name in args.scenes.split(","):
        scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
        truth_scene = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
        ref = raydiff.read_reference(os.path.join(ROOT, "assets", f"{name}_ref.png"), scene.film.width, scene.film.height)
        size = scene_size(truth_scene)
        print(f"\n{name} ({scene.film.width}x{scene.film.height})")
        for spp in [int(s) for s in args.spp.split(",")]:
            for decorrelate in (False, True):
                per_path: dict[str, list[tuple[float, float]]] = {}
                seconds, iterations = 0.0, 0
                for seed in range(args.seeds):
                    settings = raydiff.FitSettings(iterations=args.iterations, spp=spp, seed=seed, decorrelate=decorrelate)
                    stamps = []
                    result = raydiff.fit(scene, ref, settings, callback=lambda it: stamps.append(time.perf_counter()))
                    seconds += stamps[-1] - stamps[0]  # after the first iteration: compilation left out
                    iterations += len(stamps) - 1
                    truth = truth_values(truth_scene, list(result.values))
                    tail = result.history[-max(1, len(result.history) // 4):, 2:].mean(axis=0)
                    i = 0
                    for path, best in result.values.items():
                        n = len(best)
                        averaged = tail[i : i + n]
                        i += n
                        per_path.setdefault(path, []).append(
                            (error(path, averaged, truth[path], size), error(path, best, truth[path], size)))
                mode = "decorrelated" if decorrelate else "correlated  "
                cells = []
                for path, errs in per_path.items():
                    e = np.array(errs)
                    unit = "% of size" if is_place(path) else "% rel"
                    cells.append(f"{path.split('.', 1)[1]} {e[:, 0].mean():6.2f} (max {e[:, 0].max():5.2f}) "
                                 f"[{e[:, 1].mean():5.2f}] {unit}")
                print(f"  spp {spp}  {mode}  " + "   ".join(cells) + f"   {1000 * seconds / iterations:5.1f} ms/it",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
