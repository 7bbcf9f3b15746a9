"""How close raydiff's rough conductors and plastics are to Mitsuba 3's, next to how close Mitsuba is to itself.

    python benchmarks/glossy_parity.py [--spp 256] [--material roughconductor|roughplastic]

Renders tests/scene_builders.py's glossy parity scene (a gold and a perfect-reflector sphere and a copper
cube mesh, ``roughconductor`` with GGX, on a diffuse floor under two point lights), or with
``--material roughplastic`` its plastic twin (``plastic_parity_scene``: red, blue and green
``roughplastic`` objects), at the roughness values tests/test_parity.py compares (and 0.25 for the
plastics), and prints per roughness the relative RMSE (``sqrt(mean((a - b)^2)) /
sqrt(mean(b^2))``) of

* raydiff against Mitsuba 3 with its ``stratified`` sampler (what tests/test_parity.py checks, limit 2%);
* Mitsuba against itself, two seeds, ``stratified``: the noise of that comparison;
* Mitsuba against itself, two seeds, ``independent`` (the sampler the diffuse parity tests use): why the
  glossy ones take the stratified one: a highlight varies strongly within a pixel.

Mitsuba renders each light alone and the images are summed (as tests/test_parity.py does). Needs Mitsuba 3
(``scalar_rgb``).
"""

import argparse
import os
import sys
from dataclasses import replace

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import raydiff  # noqa: E402
import scene_builders as scenes  # noqa: E402
from mitsuba_oracle import render_mitsuba  # noqa: E402

ALPHAS = (0.1, 0.25, 0.5)  # tests/test_parity.py's GLOSSY_ALPHAS
#: Per material: the parity scene's builder and the roughness values (tests/test_parity.py's, and more).
MATERIALS = {
    "roughconductor": (scenes.glossy_parity_scene, ALPHAS),
    "roughplastic": (scenes.plastic_parity_scene, (0.1, 0.25, 0.4)),  # PLASTIC_ALPHAS are 0.1 and 0.4
}


def relative_rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))


def mitsuba(scene, spp: int, sampler: str, seed: int) -> np.ndarray:
    return sum(render_mitsuba(replace(scene, lights=(light,)), spp=spp, sampler=sampler, seed=seed)
               for light in scene.lights)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spp", type=int, default=256)
    parser.add_argument("--material", choices=tuple(MATERIALS), default="roughconductor")
    args = parser.parse_args()
    build, alphas = MATERIALS[args.material]
    raydiff.init("cpu")
    print(f"{'alpha':>6}  {'raydiff vs Mitsuba':>18}  {'Mitsuba vs Mitsuba':>18}  {'same, independent':>18}")
    for alpha in alphas:
        scene = build(alpha, spp=args.spp)
        ours = raydiff.render(scene, spp=args.spp, seed=0)
        strat = [mitsuba(scene, args.spp, "stratified", seed) for seed in (0, 5)]
        indep = [mitsuba(scene, args.spp, "independent", seed) for seed in (0, 5)]
        print(f"{alpha:>6g}  {relative_rmse(ours, strat[0]):>18.2%}  {relative_rmse(strat[1], strat[0]):>18.2%}  "
              f"{relative_rmse(indep[1], indep[0]):>18.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
