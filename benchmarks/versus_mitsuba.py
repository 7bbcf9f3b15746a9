"""raydiff against Mitsuba 3, per fit iteration, on the example scenes, in one run.

    python benchmarks/versus_mitsuba.py [--scenes three_spheres,box,...] [--width 256 --height 256 --spp 4]
                                        [--backends cpu,vulkan,cuda] [--iterations 20] [--primary-sets K] [--primary-refresh M]
                                        [--resolutions 64,128,256,512] [--spp 1,4,16]

The curves: ``--resolutions`` (square films, overriding ``--width``/``--height``) and ``--spp`` take
comma-separated lists, and every pair of the two lists is a row of the table (so ``--resolutions
64,128,256,512`` is the resolution curve at one spp, ``--spp 1,4,16`` the spp curve at one film).

One iteration = render, MSE loss against a reference, gradient, one Adam step, for the same scene,
resolution, spp and free parameters on both sides: every point light's position (the parameters a
Mitsuba 3 scene exposes for every example; the scenes lit only by directional lights are left out).
Mitsuba runs ``llvm_ad_rgb`` with its ``direct`` integrator sampling lights only (``emitter_samples: 1,
bsdf_samples: 0``: a camera ray and a shadow ray per sample and light, the work raydiff does) and
``dr.backward``; it has no boundary terms. raydiff runs its fit step with Adam, as Mitsuba (``raydiff
fit`` would take Levenberg-Marquardt for so few free scalars: fewer, costlier iterations), with boundary
terms (its default) and, in the next column, without them (the same estimator as Mitsuba's). Every
measurement runs in its own process; the table prints the medians (after warm-up), their ratio and
raydiff's iterations per second. Needs Mitsuba 3 (`pip install mitsuba`) and a libLLVM >= 16 for the
Mitsuba column (Debian: libllvm19); without it, raydiff's columns only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

SCENES = ("three_spheres", "box", "shadow_only", "two_lights", "mesh_pose", "mesh_light", "glossy")


def benchmark_scene(name: str, width: int, height: int, spp: int):
    """The example scene at the benchmark's film, with every point light's position free."""
    from dataclasses import replace

    import raydiff
    from raydiff.scene.model import FreeParameter, PointLight

    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    free = tuple(FreeParameter(f"lights.{l.name}.position") for l in scene.lights if isinstance(l, PointLight))
    return replace(scene, film=replace(scene.film, width=width, height=height, spp=spp), optimize=free)


def raydiff_ms(name: str, arch: str, width: int, height: int, spp: int, iterations: int, boundary: bool,
               primary_sets: int = 0, primary_refresh: int = 0) -> float:
    """Median ms of raydiff's fit step (in the child process)."""
    import numpy as np

    import raydiff
    from common import median_ms
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings

    raydiff.init(arch)
    scene = benchmark_scene(name, width, height, spp)
    reference = Reference("<rendered>", np.clip(raydiff.render(scene, spp=spp, seed=1), 0, 1), True)
    settings = FitSettings(iterations=iterations + 10, tol=0.0, boundary=boundary, optimizer="adam",  # as Mitsuba
                           primary_sets=primary_sets, primary_refresh=primary_refresh)
    return median_ms(Fitter(scene, reference, settings).step, iterations, warmup=3)


def mitsuba_ms(name: str, width: int, height: int, spp: int, iterations: int) -> float | None:
    """Median ms of Mitsuba 3's iteration (``direct``, lights sampled only), or None without llvm_ad_rgb."""
    from mitsuba_baseline import _set_llvm_variant, median_iteration_ms

    mi = _set_llvm_variant()
    if mi is None:
        return None
    import drjit as dr

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from mitsuba_oracle import scene_dict

    scene = benchmark_scene(name, width, height, spp)
    with tempfile.TemporaryDirectory() as tmp:
        d = scene_dict(scene, spp, tmpdir=tmp)
        d["integrator"] = {"type": "direct", "emitter_samples": 1, "bsdf_samples": 0}
        mi_scene = mi.load_dict(d)
    params = mi.traverse(mi_scene)
    keys = [f"{f.path.split('.')[1]}.position" for f in scene.optimize]
    reference = mi.render(mi_scene, spp=spp, seed=12345)
    dr.eval(reference)
    opt = mi.ad.Adam(lr=0.05)
    for k in keys:
        opt[k] = params[k] + mi.Point3f(0.3, -0.2, 0.2)
    params.update(opt)
    return median_iteration_ms(mi, mi_scene, params, opt, reference, spp, iterations, warmup=3)


def child(args) -> int:
    what, name = args.child.split(":", 1)
    size = (args.width, args.height, args.spp, args.iterations)
    if what == "mitsuba":
        ms = mitsuba_ms(name, *size)
    else:
        arch, boundary = what.split("/")
        ms = raydiff_ms(name, arch, *size, boundary == "edges", args.primary_sets, args.primary_refresh)
    print(json.dumps({"ms": ms}))
    return 0


def run_child(args, what: str, name: str) -> float | None:
    cmd = [sys.executable, __file__, "--child", f"{what}:{name}", "--width", str(args.width), "--height",
           str(args.height), "--spp", str(args.spp), "--iterations", str(args.iterations),
           "--primary-sets", str(args.primary_sets), "--primary-refresh", str(args.primary_refresh)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"    ({what} on {name} failed: {out.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--backends", default="cpu,vulkan,cuda")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--spp", default="4", help="samples per pixel, or a comma-separated list (a curve)")
    parser.add_argument("--resolutions", default="",
                        help="comma-separated square film sizes (a curve; overrides --width/--height)")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-mitsuba", action="store_true")
    parser.add_argument("--primary-sets", type=int, default=0,
                        help="raydiff's FitSettings.primary_sets (the primary cache; 0: none)")
    parser.add_argument("--primary-refresh", type=int, default=0,
                        help="raydiff's FitSettings.primary_refresh (1: the rolling cache, the fit's default; "
                             "0: fixed sets, as this benchmark's --primary-sets figures before it)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.spp = int(args.spp)
        return child(args)

    from raydiff import backend

    archs = [a for a in args.backends.split(",") if backend.available(a)]
    films = [(int(r), int(r)) for r in args.resolutions.split(",") if r] or [(args.width, args.height)]
    spps = [int(s) for s in str(args.spp).split(",")]
    print(f"ms per fit iteration, every point light's position free (median of {args.iterations}); "
          f"backends here: {', '.join(archs)}")
    print(f"{'scene':14s} {'film':>9s} {'spp':>4s} {'backend':7s} {'raydiff':>9s} {'no edges':>9s} {'mitsuba':>9s} "
          f"{'ratio':>6s} {'(no edges)':>10s} {'it/s':>6s}")
    fmt = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9s}"  # noqa: E731
    for name in args.scenes.split(","):
        for (args.width, args.height) in films:
            for args.spp in spps:
                film = f"{args.width}x{args.height}"
                mi = None if args.no_mitsuba else run_child(args, "mitsuba", name)
                for arch in archs:
                    ours = run_child(args, f"{arch}/edges", name)
                    plain = run_child(args, f"{arch}/plain", name)
                    ratio = f"{mi / ours:5.1f}x" if mi and ours else f"{'-':>6s}"
                    ratio_plain = f"{mi / plain:9.1f}x" if mi and plain else f"{'-':>10s}"
                    rate = f"{1000.0 / ours:6.1f}" if ours else f"{'-':>6s}"
                    print(f"{name:14s} {film:>9s} {args.spp:4d} {arch:7s} {fmt(ours)} {fmt(plain)} {fmt(mi)} "
                          f"{ratio} {ratio_plain} {rate}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
