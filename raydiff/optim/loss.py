"""The image loss: mean squared error (default) or mean absolute error, in linear RGB, summed over views.

When the reference is low dynamic range (an 8- or 16-bit file, clipped at 1.0 when it was saved) the
render is clamped to [0, 1] before the comparison, so that both sides live in the same domain; without
that, fits against bright images are biased towards dimmer lights.
"""

import numpy as np
import taichi as ti

from ..device.upload import upload

LOSSES = ("mse", "l1")


class ImageLoss:
    """``loss = sum over views of weight * mean over pixels and channels of f(render - reference)``,
    f = square or abs.

    Parameters
    ----------
    image : ti.Vector.field(3, f32), needs_grad
        The render: shape (height, width), or (views, height, width) (the integrator's ``image``).
    reference : np.ndarray or sequence of np.ndarray
        Linear RGB, (height, width, 3) per view: one array for a single view, or one per view (a list, or
        an array of shape (views, height, width, 3)).
    kind : {"mse", "l1"}
    clamp : bool or sequence of bool
        Clamp the render to [0, 1] first (for low-dynamic-range references); one value, or one per view.
    weights : sequence of float, optional
        Each view's weight (default 1 for every view).
    """

    def __init__(self, image, reference, kind: str = "mse", clamp=True, weights=None):
        if kind not in LOSSES:
            raise ValueError(f"unknown loss '{kind}'; choose one of {', '.join(LOSSES)}")
        views = image.shape[0] if len(image.shape) == 3 else 1
        height, width = image.shape[-2:]
        self.views, self.height, self.width = views, height, width
        references = self._checked(reference)
        clamps = [bool(clamp)] * views if np.ndim(clamp) == 0 else [bool(c) for c in clamp]
        weights = [1.0] * views if weights is None else [float(w) for w in weights]
        if len(clamps) != views or len(weights) != views:
            raise ValueError(f"give one clamp flag and one weight per view ({views})")
        self.kind, self.clamp = kind, clamps
        self.image = image
        self.reference = ti.Vector.field(3, ti.f32, shape=(views, height, width))
        self.value = ti.field(ti.f32, shape=(), needs_grad=True)
        self.scale = ti.field(ti.f32, shape=views)  # weight / (3 * pixels), per view
        self.clamped = ti.field(ti.i32, shape=views)
        upload([(self.reference, references),  # one kernel for the three (device/upload.py)
                (self.scale, np.array(weights, dtype=np.float32) / (3.0 * width * height)),
                (self.clamped, np.array(clamps, dtype=np.int32))])
        ref, value, scale, clamped = self.reference, self.value, self.scale, self.clamped
        flat = len(image.shape) == 2

        @ti.func
        def render(v, y, x):
            c = ti.Vector([0.0, 0.0, 0.0])
            if ti.static(flat):
                c = image[y, x]
            else:
                c = image[v, y, x]
            return c

        @ti.kernel
        def evaluate():
            for v, y, x in ref:
                c = render(v, y, x)
                if clamped[v]:
                    c = ti.min(ti.max(c, 0.0), 1.0)
                diff = c - ref[v, y, x]
                if ti.static(kind == "mse"):
                    value[None] += diff.dot(diff) * scale[v]
                else:
                    value[None] += (ti.abs(diff[0]) + ti.abs(diff[1]) + ti.abs(diff[2])) * scale[v]

        self._evaluate = evaluate

    def _checked(self, reference) -> np.ndarray:
        """``reference`` as a contiguous (views, height, width, 3) float32 array, or ValueError."""
        views, height, width = self.views, self.height, self.width
        references = np.asarray(reference, dtype=np.float32)
        if references.ndim == 3:
            references = references[None]
        if references.shape != (views, height, width, 3):
            want = (height, width, 3) if views == 1 else (views, height, width, 3)
            raise ValueError(f"reference is {references.shape[1:] if views == 1 else references.shape}, "
                             f"the image is {want}")
        return np.ascontiguousarray(references)

    def set_reference(self, reference, clamp=None) -> None:
        """Compare with other images from now on (same shapes as at construction; one device write).

        ``clamp`` (one flag, or one per view) replaces the clamp flags when given. The compiled kernels are
        kept: a recovery study or a sequence of frames changes only this.
        """
        self.reference.from_numpy(self._checked(reference))
        if clamp is not None:
            clamps = [bool(clamp)] * self.views if np.ndim(clamp) == 0 else [bool(c) for c in clamp]
            if len(clamps) != self.views:
                raise ValueError(f"give one clamp flag per view ({self.views})")
            self.clamp = clamps
            self.clamped.from_numpy(np.array(clamps, dtype=np.int32))

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
