"""Draw the true texture of the texture example: ``assets/texture_truth.png``, 256 x 256, 8-bit sRGB.

    python examples/make_texture.py

A picture made of shapes rather than noise, as a painted wall would be: colour gradients, a checkered
band and a few discs, their edges softened over about two texels (a photograph's edges are not sharper
than its pixels), every value in [0.05, 0.95]. Deterministic: the same file every run.
"""

import os
import sys

import numpy as np

import raydiff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 256


def soft(distance: np.ndarray, width: float = 1.0) -> np.ndarray:
    """1 inside (distance < 0), 0 outside, a smooth step ``width`` texels either side of the edge."""
    return 1.0 / (1.0 + np.exp(distance / width))


def texture(size: int = SIZE) -> np.ndarray:
    """(size, size, 3) linear RGB: the picture described in the module's docstring."""
    y, x = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    u, v = x / size, y / size
    image = np.stack([0.25 + 0.5 * u, 0.3 + 0.4 * v, 0.7 - 0.4 * u * v], axis=-1)
    band = soft(np.abs(v - 0.72) * size - 0.1 * size)  # a checkered band across the lower part
    checks = ((np.floor(x / 32) + np.floor(y / 32)) % 2)[..., None] * np.array([0.55, 0.1, -0.2])
    image = image + band[..., None] * (checks - 0.1)
    for cx, cy, r, colour in ((0.3, 0.3, 0.17, (0.9, 0.75, 0.2)), (0.72, 0.28, 0.12, (0.15, 0.55, 0.35)),
                              (0.55, 0.5, 0.08, (0.85, 0.2, 0.3))):
        inside = soft((np.hypot(u - cx, v - cy) - r) * size)[..., None]
        image = image * (1 - inside) + inside * np.array(colour)
    return np.clip(image, 0.05, 0.95).astype(np.float32)


def main() -> int:
    path = os.path.join(ROOT, "assets", "texture_truth.png")
    raydiff.write_image(path, texture())
    print(f"{os.path.relpath(path, ROOT)}: {SIZE}x{SIZE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
