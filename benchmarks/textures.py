"""Cost of a free texture: milliseconds per fit iteration with a free 512x512 texture next to the same
scene with a flat colour free instead, in one run.

    python benchmarks/textures.py [--size 512] [--width 128 --height 128 --spp 4] [--iterations 10]

Scene: a wall (a quad filling most of the view) under one point light; in the first fit its albedo is a
flat colour (3 free scalars), in the second a ``size`` x ``size`` texture from a flat start (every texel
free: 786,432 scalars at 512). Both are Adam fits (``raydiff fit`` would take Levenberg-Marquardt for the
3 scalars) of the same film, samples and reference, in the same process, after two warm-up iterations;
printed: the median milliseconds of an iteration (render, loss, gradient, Adam step, history row) and
the extra cost of the texture. The parts the texture adds: the bilinear lookup's four reads and their
gradient's four atomic adds per sample, Adam over every texel, the history's mean of the texels, and the
band sums' fold over the pool (which now holds the texels).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def scene_text(albedo: str, width: int, height: int, spp: int) -> str:
    return "\n".join([
        "camera: {position: [0, 0, 3.2], look_at: [0, 0, 0], fov: 40}",
        f"film: {{width: {width}, height: {height}, spp: {spp}}}",
        "objects:",
        f"  - {{name: wall, type: quad, origin: [-1, 1, 0], edge1: [2, 0, 0], edge2: [0, -2, 0], albedo: {albedo}}}",
        "lights:",
        "  - {name: key, type: point, position: [0.3, 0.6, 3], intensity: 10}",
        "optimize:",
        "  objects.wall.albedo: {}",
    ]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="the texture's width and height in texels")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--arch", default="cpu")
    args = parser.parse_args()

    import numpy as np

    import raydiff
    from common import median_ms
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings

    backend = raydiff.init(args.arch)
    reference = Reference("<flat>", np.full((args.height, args.width, 3), 0.2, np.float32), True)
    settings = FitSettings(iterations=args.iterations + 10, tol=0.0, optimizer="adam")
    print(f"a wall, {args.width}x{args.height}, {args.spp} spp, Adam, {backend.describe()}")
    print(f"{'free albedo':>28s} {'scalars':>9s} {'ms/iteration':>13s}")
    results = {}
    for label, albedo in (("flat colour", "0.5"),
                          (f"{args.size}x{args.size} texture", f"{{resolution: [{args.size}, {args.size}], value: 0.5}}")):
        scene = raydiff.load_scene_string(scene_text(albedo, args.width, args.height, args.spp))
        fitter = Fitter(scene, reference, settings)
        fitter.step()  # compiles
        results[label] = median_ms(fitter.step, args.iterations, warmup=2)
        scalars = len(fitter.dev.free_offsets)
        print(f"{label:>28s} {scalars:9d} {results[label]:13.1f}", flush=True)
        del fitter
    flat, textured = results.values()
    print(f"the texture costs {textured - flat:.1f} ms more an iteration ({textured / flat:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
