"""Mitsuba 3's time for one inverse-rendering iteration: the baseline raydiff's own loop is compared with.

One iteration = render a sphere-over-floor scene with the point light's position differentiable, MSE loss
against a reference rendered once, ``dr.backward``, one ``mi.ad.Adam`` step and ``params.update(opt)``, in the
``llvm_ad_rgb`` variant (CPU, needs libLLVM). Run it directly to print the median milliseconds:

    python benchmarks/mitsuba_baseline.py [--width 256 --height 256 --spp 4 --iterations 20 --warmup 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

_DEBIAN_LIBLLVM = "/usr/lib/x86_64-linux-gnu/libLLVM-19.so"

# The point light's traverse key. Mitsuba 3.9 lists ``light.position`` without the differentiable flag,
# yet gradients do flow through it (checked: non-zero dr.grad after dr.backward).
LIGHT_KEY = "light.position"
TRUE_LIGHT = (1.0, 3.0, 1.0)
START_LIGHT = (0.5, 2.5, 1.5)


def _set_llvm_variant():
    """Import Mitsuba with the llvm_ad_rgb variant set, or None when that cannot be done."""
    if "DRJIT_LIBLLVM_PATH" not in os.environ and os.path.exists(_DEBIAN_LIBLLVM):
        os.environ["DRJIT_LIBLLVM_PATH"] = _DEBIAN_LIBLLVM
    try:
        import mitsuba as mi

        mi.set_variant("llvm_ad_rgb")
    except Exception:  # not installed, variant not compiled in, or no LLVM to JIT with
        return None
    return mi


def _scene_dict(mi, width: int, height: int, spp: int) -> dict:
    def bsdf(rgb):
        return {
            "type": "twosided",
            "material": {"type": "diffuse", "reflectance": {"type": "rgb", "value": list(rgb)}},
        }

    return {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 2},
        "sensor": {
            "type": "perspective",
            "fov": 40.0,
            "fov_axis": "x",
            "near_clip": 1e-3,
            "to_world": mi.ScalarTransform4f().look_at(origin=[0.0, 1.5, 4.0], target=[0.0, 0.4, 0.0], up=[0, 1, 0]),
            "film": {
                "type": "hdrfilm",
                "width": width,
                "height": height,
                "pixel_format": "rgb",
                "rfilter": {"type": "box"},
            },
            "sampler": {"type": "independent", "sample_count": spp},
        },
        "sphere": {"type": "sphere", "center": [0.0, 0.5, 0.0], "radius": 0.5, "bsdf": bsdf((0.7, 0.3, 0.2))},
        # rectangle is [-1, 1]^2 in xy with normal +z: scale to 6 x 6, then turn it to face +y at y = 0.
        "floor": {
            "type": "rectangle",
            "to_world": mi.ScalarTransform4f().rotate(axis=[1, 0, 0], angle=-90.0).scale([3.0, 3.0, 1.0]),
            "bsdf": bsdf((0.5, 0.5, 0.5)),
        },
        "light": {"type": "point", "position": list(TRUE_LIGHT), "intensity": {"type": "rgb", "value": [20.0] * 3}},
    }


def mitsuba_ms_per_iteration(
    width: int = 256, height: int = 256, spp: int = 4, iterations: int = 20, warmup: int = 3
) -> float | None:
    """Median wall-clock milliseconds of one Mitsuba inverse-rendering iteration, or None without llvm_ad_rgb."""
    mi = _set_llvm_variant()
    if mi is None:
        return None
    import drjit as dr

    scene = mi.load_dict(_scene_dict(mi, width, height, spp))
    params = mi.traverse(scene)
    reference = mi.render(scene, spp=spp, seed=12345)
    dr.eval(reference)

    params[LIGHT_KEY] = mi.Point3f(*START_LIGHT)
    params.update()
    opt = mi.ad.Adam(lr=0.05)
    opt[LIGHT_KEY] = params[LIGHT_KEY]
    params.update(opt)

    return median_iteration_ms(mi, scene, params, opt, reference, spp, iterations, warmup)


def median_iteration_ms(mi, scene, params, opt, reference, spp: int, iterations: int, warmup: int) -> float:
    """Median milliseconds of Mitsuba's fit iteration: render ``scene`` with ``params``, MSE against
    ``reference``, ``dr.backward``, an ``opt`` step and ``params.update(opt)``, the loss read back."""
    import drjit as dr

    times_ms: list[float] = []
    for it in range(warmup + iterations):
        t0 = time.perf_counter()
        image = mi.render(scene, params, spp=spp, seed=it)
        loss = dr.mean(dr.square(image - reference), axis=None)
        dr.backward(loss)
        opt.step()
        params.update(opt)
        _ = loss.array[0]  # read the loss back, as a fitting loop reporting progress would
        dr.sync_thread()
        elapsed = (time.perf_counter() - t0) * 1e3
        if it >= warmup:
            times_ms.append(elapsed)
    return statistics.median(times_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    ms = mitsuba_ms_per_iteration(args.width, args.height, args.spp, args.iterations, args.warmup)
    if ms is None:
        print("mitsuba llvm_ad_rgb variant unavailable (is Mitsuba installed and libLLVM found?)")
        raise SystemExit(1)
    print(
        f"mitsuba llvm_ad_rgb: {ms:.1f} ms per inverse-rendering iteration "
        f"({args.width}x{args.height}, {args.spp} spp, median of {args.iterations})"
    )


if __name__ == "__main__":
    main()
