"""The image loss: mean squared error (default) or mean absolute error, in linear RGB.

When the reference is low dynamic range (an 8- or 16-bit file, clipped at 1.0 when it was saved) the
render is clamped to [0, 1] before the comparison, so that both sides live in the same domain; without
that, fits against bright images are biased towards dimmer lights.
"""

import numpy as np
import taichi as ti

LOSSES = ("mse", "l1")


class ImageLoss:
    """``loss = mean over pixels and channels of f(render - reference)``, f = square or abs.

    Parameters
    ----------
    image : ti.Vector.field(3, f32), needs_grad
        The render (the integrator's ``image``).
    reference : np.ndarray
        (height, width, 3) linear RGB.
    kind : {"mse", "l1"}
    clamp : bool
        Clamp the render to [0, 1] first (for low-dynamic-range references).
    """

    def __init__(self, image, reference: np.ndarray, kind: str = "mse", clamp: bool = True):
        if kind not in LOSSES:
            raise ValueError(f"unknown loss '{kind}'; choose one of {', '.join(LOSSES)}")
        height, width = image.shape
        if reference.shape != (height, width, 3):
            raise ValueError(f"reference is {reference.shape}, the image is {(height, width, 3)}")
        self.kind, self.clamp = kind, clamp
        self.image = image
        self.reference = ti.Vector.field(3, ti.f32, shape=(height, width))
        self.reference.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))
        self.value = ti.field(ti.f32, shape=(), needs_grad=True)
        scale = 1.0 / (3.0 * width * height)
        ref, value = self.reference, self.value

        @ti.kernel
        def evaluate():
            for y, x in ref:
                c = image[y, x]
                if ti.static(clamp):
                    c = ti.min(ti.max(c, 0.0), 1.0)
                diff = c - ref[y, x]
                if ti.static(kind == "mse"):
                    value[None] += diff.dot(diff) * scale
                else:
                    value[None] += (ti.abs(diff[0]) + ti.abs(diff[1]) + ti.abs(diff[2])) * scale

        self._evaluate = evaluate

    def forward(self) -> None:
        """Compute the loss into ``value`` (on the device; nothing is read back)."""
        self.value[None] = 0.0
        self._evaluate()

    def backward(self) -> None:
        """Write ``d loss / d image`` into ``image.grad`` (which must be zero before)."""
        self.value.grad[None] = 1.0
        self._evaluate.grad()

    def read(self) -> float:
        """The loss's value (one device read)."""
        return float(self.value[None])
