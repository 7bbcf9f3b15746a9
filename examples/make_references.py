"""Render the reference images of the example scenes from their true scenes.

    python examples/make_references.py            # writes assets/<name>_ref.png for scenes/truth/*.yaml

The references are rendered on the CPU at 256 samples per pixel with a seed no fit uses, then saved as
8-bit sRGB PNG, as a photograph would be: the fit sees a low-dynamic-range picture, not our float image.
"""

import glob
import os
import sys

import raydiff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPP = 256
SEED = 987654321


def main() -> int:
    raydiff.init("cpu")
    for path in sorted(glob.glob(os.path.join(ROOT, "scenes", "truth", "*.yaml"))):
        scene = raydiff.load_scene(path)
        image = raydiff.render(scene, spp=SPP, seed=SEED)
        out = os.path.join(ROOT, "assets", f"{scene.name}_ref.png")
        raydiff.write_image(out, image)
        clipped = float((image > 1.0).any(axis=2).mean())
        print(f"{os.path.relpath(out, ROOT)}: {scene.film.width}x{scene.film.height}, {SPP} spp, "
              f"{100 * clipped:.2f}% of pixels clipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
