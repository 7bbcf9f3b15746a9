"""Render the reference images of the example scenes from their true scenes.

    python examples/make_references.py            # every scenes/truth/*.yaml
    python examples/make_references.py sun box    # just these

A true scene with one ``camera:`` gives ``assets/<name>_ref.png``; one with ``cameras:`` gives one picture
per camera, ``assets/<name>_<camera>.png`` (``assets/two_views_left.png``, ``assets/two_views_right.png``),
which ``raydiff fit`` takes in the order of the scene's cameras (:func:`reference_paths`).

The references are rendered on the CPU at 256 samples per pixel with a seed no fit uses, on one thread
(``deterministic``: the same bits every run), then saved as 8-bit sRGB PNG, as a photograph would be: the
fit sees a low-dynamic-range picture, not our float image.
"""

import glob
import os
import sys

import raydiff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPP = 256
SEED = 987654321


def reference_paths(scene) -> list[str]:
    """The reference files of the example ``scene`` (its true or its starting scene: they have the same
    name and cameras), one per camera in order, as paths under ROOT."""
    if not scene.several_views:
        return [os.path.join(ROOT, "assets", f"{scene.name}_ref.png")]
    return [os.path.join(ROOT, "assets", f"{scene.name}_{camera.name}.png") for camera in scene.cameras]


def main(argv: list[str]) -> int:
    raydiff.init("cpu", deterministic=True)
    paths = sorted(glob.glob(os.path.join(ROOT, "scenes", "truth", "*.yaml")))
    if argv:
        paths = [os.path.join(ROOT, "scenes", "truth", f"{name}.yaml") for name in argv]
    for path in paths:
        scene = raydiff.load_scene(path)
        images = raydiff.render_views(scene, spp=SPP, seed=SEED)
        for camera, out, image in zip(scene.cameras, reference_paths(scene), images):
            raydiff.write_image(out, image)
            clipped = float((image > 1.0).any(axis=2).mean())
            view = f", camera {camera.name}" if scene.several_views else ""
            print(f"{os.path.relpath(out, ROOT)}: {scene.film.width}x{scene.film.height}{view}, {SPP} spp, "
                  f"{100 * clipped:.2f}% of pixels clipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
