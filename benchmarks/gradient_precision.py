"""How precisely the backward pass sums the gradient, and what the precise sum costs.

    python benchmarks/gradient_precision.py [--width 256 --height 192 --spp 64,128,256,512,1024,2048]
                                            [--arch cpu] [--repeat 3]

Scene: the sphere over a floor of benchmarks/common.py, its point light's position free, the MSE against
the render at the true light position. For every spp the gradient d loss / d light position is computed
three ways from the same ``image.grad`` and the same samples (one seed):

* **float32** (the old summation): every sample's contribution added into ``pool.grad`` (float32), one
  kernel launch per batch of samples;
* **banded** (the integrator's default): bands of at most ``DEFAULT_BAND_SAMPLES`` samples (2^18 on
  every backend), each summed in float32, folded into a float64 total
  (:class:`raydiff.kernels.integrator.GradientSum`);
* **truth**: bands of 2^12 samples folded in float64 (bands of 2^10 agree with it to 2e-8).

It prints the relative L2 error of the first two against the truth, and the backward pass's time with
each (median of ``--repeat`` after one untimed run that compiles; the visibility pass of every batch but
the last is included, as in a fit).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--spp", default="64,128,256,512,1024,2048")
    parser.add_argument("--arch", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--truth-band", type=int, default=1 << 12)
    parser.add_argument("--band", type=int, default=None, help="band size of 'banded' (default: the integrator's)")
    args = parser.parse_args()

    import taichi as ti

    import raydiff
    from common import sphere_over_floor
    from raydiff.device.scene import DeviceScene
    from raydiff.kernels.integrator import DEFAULT_BAND_SAMPLES, Integrator
    from raydiff.optim.loss import ImageLoss
    from raydiff.scene.parameters import resolve_all

    backend = raydiff.init(args.arch)
    print(f"gradient of the MSE w.r.t. the light's position, {args.width}x{args.height}, backend {backend.describe()}")
    print(f"{'spp':>5} {'samples':>9} {'float32 err':>12} {'banded err':>11} {'float32 ms':>11} {'banded ms':>10} "
          f"{'bands':>6}")
    for spp in [int(s) for s in args.spp.split(",")]:
        start, reference = sphere_over_floor(args.width, args.height, spp)
        dev = DeviceScene(start, resolve_all(start))
        offsets = dev.free_offsets
        integrators = {
            "float32": Integrator(dev, spp=spp, band_samples=1 << 62),
            "banded": Integrator(dev, spp=spp, band_samples=args.band or DEFAULT_BAND_SAMPLES),
            "truth": Integrator(dev, spp=spp, band_samples=args.truth_band),
        }
        integrators["float32"].gradient_sum = None  # one float32 sum over every batch: the old backward
        grads, times = {}, {}
        for name, integ in integrators.items():
            loss = ImageLoss(integ.image, [reference.linear], "mse", clamp=[True])
            integ.zero_grad()
            integ.forward(7)
            loss.forward()
            loss.backward()
            image_grad = integ.image.grad.to_numpy()
            samples = []
            runs = 1 + max(1, args.repeat) if name != "truth" else 1  # the first compiles
            for _ in range(runs):
                dev.pool.grad.fill(0.0)
                integ.image.grad.from_numpy(image_grad)
                integ.forward(7)  # the records of the last batch, as a fit leaves them
                ti.sync()
                t0 = time.perf_counter()
                integ.backward(7)
                ti.sync()
                samples.append(1000.0 * (time.perf_counter() - t0))
            grads[name] = dev.pool.grad.to_numpy()[offsets].astype(np.float64)
            times[name] = statistics.median(samples[1:] or samples)
        truth = grads["truth"]

        def err(name: str) -> float:
            return float(np.linalg.norm(grads[name] - truth) / np.linalg.norm(truth))

        n_bands = sum(map(len, integrators["banded"].bands))
        print(f"{spp:5d} {spp * args.width * args.height / 1e6:8.1f}M {err('float32'):12.2e} {err('banded'):11.2e} "
              f"{times['float32']:11.1f} {times['banded']:10.1f} {n_bands:6d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
