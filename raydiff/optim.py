"""Adam on the free entries of the scene's pool, with per-component learning rates and box bounds.

The parameters, their gradients, Adam's moments, learning rates and bounds all stay in Taichi fields; one
step is one kernel launch. After each step the values are projected onto [lower, upper] (albedo in
[0, 1], intensity >= 0, and whatever ``min``/``max`` the scene asked for).
"""

import numpy as np
import taichi as ti


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction and projection onto bounds.

    Parameters
    ----------
    pool : ti.field (f32, needs_grad)
        The field holding every scene scalar; only ``offsets`` are touched.
    offsets : np.ndarray of int
        Pool indices of the free components.
    lr, lower, upper : np.ndarray of float
        Per-component learning rate and bounds (same length as ``offsets``).
    beta1, beta2, eps : float
        Adam's constants.
    """

    def __init__(self, pool, offsets, lr, lower, upper, beta1=0.9, beta2=0.999, eps=1e-8):
        n = max(len(offsets), 1)
        self.n = len(offsets)
        self.index = ti.field(ti.i32, shape=n)
        self.lr = ti.field(ti.f32, shape=n)
        self.lower = ti.field(ti.f32, shape=n)
        self.upper = ti.field(ti.f32, shape=n)
        self.m = ti.field(ti.f32, shape=n)
        self.v = ti.field(ti.f32, shape=n)
        if self.n:
            self.index.from_numpy(np.asarray(offsets, dtype=np.int32))
            self.lr.from_numpy(np.asarray(lr, dtype=np.float32))
            big = np.float32(3e38)
            self.lower.from_numpy(np.clip(np.asarray(lower, dtype=np.float32), -big, big))
            self.upper.from_numpy(np.clip(np.asarray(upper, dtype=np.float32), -big, big))
        self.t = 0
        index, lrs, lo, hi, m, v, count = self.index, self.lr, self.lower, self.upper, self.m, self.v, self.n

        @ti.kernel
        def step(lr_scale: ti.f32, bias1: ti.f32, bias2: ti.f32):
            for i in range(count):
                k = index[i]
                g = pool.grad[k]
                m[i] = beta1 * m[i] + (1.0 - beta1) * g
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
                update = lrs[i] * lr_scale * (m[i] / bias1) / (ti.sqrt(v[i] / bias2) + eps)
                pool[k] = ti.min(ti.max(pool[k] - update, lo[i]), hi[i])

        @ti.kernel
        def project():
            for i in range(count):
                k = index[i]
                pool[k] = ti.min(ti.max(pool[k], lo[i]), hi[i])

        self._step = step
        self._project = project
        self.beta1, self.beta2 = beta1, beta2

    def project(self) -> None:
        """Clamp the free values onto their bounds (e.g. a starting guess outside them)."""
        self._project()

    def step(self, lr_scale: float = 1.0) -> None:
        """One Adam step from the gradients in ``pool.grad``; ``lr_scale`` multiplies every rate."""
        self.t += 1
        self._step(lr_scale, 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t)
