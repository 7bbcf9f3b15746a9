"""Where a fit iteration's time goes: each step of an Adam iteration and of a Levenberg-Marquardt one.

    python benchmarks/iteration_profile.py [--scenes three_spheres,two_lights,mesh_light]
                                           [--width 256 --height 256 --spp 4 --iterations 10] [--primary-sets K] [--primary-refresh M]

The scenes of benchmarks/versus_mitsuba.py (every point light's position free). For Adam, the steps
of ``Fitter.step`` with the gradient (:class:`raydiff.optim.gradient.LossGradient`) taken apart: the
forward pass (visibility with shading fused in), the loss and its backward, the gradient's own pass
(visibility re-traced for its seed, then the shading kernel's reverse mode), the boundary terms, and
Adam with the history row. For Levenberg-Marquardt (what ``raydiff fit`` runs for these few scalars),
its render of the iteration, the Jacobian's renders (each at its share of the spp), the normal
equations and the trial renders. Every step is followed by ``ti.sync()``, so each time is the step's
own; medians over ``--iterations`` after 3 warm-up iterations, in ms. Each scene runs in its own
process.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import add_scene_arguments  # noqa: E402


def profile(name: str, width: int, height: int, spp: int, iterations: int, primary_sets: int = 0,
            primary_refresh: int = 0) -> dict:
    """Median ms per step (in the child process)."""
    import numpy as np
    import taichi as ti

    import raydiff
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings
    from versus_mitsuba import benchmark_scene

    raydiff.init("cpu")
    scene = benchmark_scene(name, width, height, spp)
    reference = Reference("<rendered>", np.clip(raydiff.render(scene, spp=spp, seed=1), 0, 1), True)
    times: dict[str, list[float]] = {}

    def timed(label, step):
        def run(*args, **kwargs):
            ti.sync()
            t0 = time.perf_counter()
            out = step(*args, **kwargs)
            ti.sync()
            times.setdefault(label, []).append((time.perf_counter() - t0) * 1000.0)
            return out
        return run

    out = {}
    for method in ("adam", "lm"):
        fitter = Fitter(scene, reference, FitSettings(iterations=iterations + 10, tol=0.0, optimizer=method,
                                                      primary_sets=primary_sets, primary_refresh=primary_refresh))
        if method == "adam":
            g, integ = fitter.gradient, fitter.integrator
            integ.zero_grad, integ.forward = timed("zero_grad", integ.zero_grad), timed("forward", integ.forward)
            g.loss.forward, g.loss.backward = timed("loss", g.loss.forward), timed("loss backward", g.loss.backward)
            integ.backward = timed("gradient pass (visibility + shade.grad)", integ.backward)
            if g.boundary is not None:
                g.boundary.backward = timed("boundary terms", g.boundary.backward)
            fitter.optimizer.step = timed("adam + guard", fitter.optimizer.step)
        else:
            lm, integ = fitter.optimizer, fitter.integrator
            lm.evaluate = timed("renders + loss (the iteration's and the trials')", lm.evaluate)
            lm._jacobian = timed("jacobian (2 estimates)", lm._jacobian)
            lm._equations = timed("normal equations", lm._equations)
            lm._trial_loss = timed("trials (their renders, losses and reads)", lm._trial_loss)
        fitter._record = timed("history row", fitter._record)
        fitter._refresh_primary = timed("primary refresh (mean over iterations)", fitter._refresh_primary)
        step = timed("total", fitter.step)
        for _ in range(3):
            step()
        times.clear()
        for _ in range(iterations):
            step()
        counts = {label: len(values) / iterations for label, values in times.items()}
        out[method] = {label: (statistics.median(values) * counts[label], counts[label])
                       for label, values in times.items()}
        # a rolling cache re-traces a set every few iterations: its share, and the total, as means
        out[method]["primary refresh (mean over iterations)"] = (statistics.fmean(times["primary refresh (mean over iterations)"]), 1)
        out[method]["mean total"] = (statistics.fmean(times["total"]), 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_arguments(parser)
    parser.add_argument("--primary-sets", type=int, default=0, help="FitSettings.primary_sets (the primary cache; 0: none)")
    parser.add_argument("--primary-refresh", type=int, default=0,
                        help="FitSettings.primary_refresh (re-trace a set every M iterations; 0: fixed sets)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(profile(args.child, args.width, args.height, args.spp, args.iterations, args.primary_sets,
                                 args.primary_refresh)))
        return 0
    print(f"ms per iteration step, {args.width}x{args.height}, {args.spp} spp, cpu "
          f"(median of {args.iterations}; a step run several times per iteration: median x calls)")
    for name in args.scenes.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--width", str(args.width), "--height", str(args.height),
               "--spp", str(args.spp), "--iterations", str(args.iterations), "--primary-sets", str(args.primary_sets),
               "--primary-refresh", str(args.primary_refresh)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{name}: failed\n{run.stderr[-2000:]}")
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        for method, steps in result.items():
            total = steps.pop("total")[0]
            mean = steps.pop("mean total")[0]
            print(f"  {name}, {method}: {total:7.1f} ms per iteration (median; mean {mean:.1f})")
            for label, (ms, calls) in sorted(steps.items(), key=lambda item: -item[1][0]):
                print(f"      {label:42s} {ms:7.1f} ms  {100 * ms / total:4.0f}%" + (f"  ({calls:g} calls)" if calls != 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
