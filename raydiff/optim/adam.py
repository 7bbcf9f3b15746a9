"""Adam on the free entries of the scene's pool, with per-component learning rates, box bounds and a
divergence guard.

The parameters, their gradients, Adam's moments and step count, learning rates, bounds and the guard's
state all stay in Taichi fields; one step is one kernel launch and reads nothing back. After each step
the values are projected onto [lower, upper] (albedo in [0, 1], intensity >= 0, and whatever
``min``/``max`` the scene asked for), and directions (a directional light's, a rotation's axis) are
normalised back to unit length.

The guard (when a loss field is given) runs inside the same kernel, before the step:

- it keeps the *best* iterate so far: the values with the lowest loss seen, and that loss;
- if the loss or any free gradient is not finite, it skips the step, restores the best values, restarts
  Adam's moments, and halves every learning rate from then on (``halvings`` counts how often).
"""

import numpy as np
import taichi as ti

from ..device.upload import Uploads

_EXPONENT = 0x7F800000


@ti.func
def not_finite(x: ti.f32) -> ti.i32:
    """NaN or infinite, by the exponent bits (comparisons with NaN may be folded away under fast math)."""
    return ti.cast((ti.bit_cast(x, ti.i32) & _EXPONENT) == _EXPONENT, ti.i32)


def unit_normaliser(pool, index, unit, n_unit: int):
    """A ``ti.func`` that scales every free unit vector of ``pool`` back to length 1 (the constraint
    every optimiser keeps after its step).

    Parameters
    ----------
    pool : ti.field (f32)
        The scene's pool.
    index : ti.field (i32)
        Pool index of every free component.
    unit : ti.field (i32)
        Positions (in ``index``) of the first component of each free unit vector.
    n_unit : int
        How many of ``unit``'s entries are used.
    """

    @ti.func
    def normalise_units():
        for j in range(n_unit):
            i = unit[j]
            a, b, c = index[i], index[i + 1], index[i + 2]
            norm = ti.sqrt(pool[a] * pool[a] + pool[b] * pool[b] + pool[c] * pool[c])
            if norm > 0.0:
                pool[a], pool[b], pool[c] = pool[a] / norm, pool[b] / norm, pool[c] / norm

    return normalise_units


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction and projection onto bounds.

    ``STATE_ARRAYS`` names the arrays of :meth:`state_arrays`.

    Parameters
    ----------
    pool : ti.field (f32, needs_grad)
        The field holding every scene scalar; only ``offsets`` are touched.
    offsets : np.ndarray of int
        Pool indices of the free components.
    lr, lower, upper : np.ndarray of float
        Per-component learning rate and bounds (same length as ``offsets``).
    loss : ti.field (f32, shape ()), optional
        The loss of the current values. Given, the step is guarded (see the module's docstring).
    unit : sequence of int, optional
        Positions (in ``offsets``) of the first component of each free unit vector: components ``i, i + 1,
        i + 2`` are normalised after every step.
    beta1, beta2, eps : float
        Adam's constants.

    Attributes
    ----------
    best : ti.field
        The best values seen (guarded only), in the order of ``offsets``.
    state : ti.field (i32, 4)
        ``[steps taken, halvings, iteration of the best, last iteration that rolled back (-1: none)]``.
    """

    STEPS, HALVINGS, BEST_ITERATION, LAST_ROLLBACK = range(4)

    def __init__(self, pool, offsets, lr, lower, upper, loss=None, beta1=0.9, beta2=0.999, eps=1e-8, unit=()):
        n = max(len(offsets), 1)
        self.n = len(offsets)
        self.n_unit = len(unit)
        self.unit = ti.field(ti.i32, shape=max(self.n_unit, 1))
        uploads = Uploads()  # the fields' first values, written by one kernel (device/upload.py)
        if self.n_unit:
            uploads.add(self.unit, np.asarray(unit, dtype=np.int32))
        self.index = ti.field(ti.i32, shape=n)
        self.lr = ti.field(ti.f32, shape=n)
        self.lower = ti.field(ti.f32, shape=n)
        self.upper = ti.field(ti.f32, shape=n)
        self.m = ti.field(ti.f32, shape=n)
        self.v = ti.field(ti.f32, shape=n)
        self.best = ti.field(ti.f32, shape=n)
        self.best_loss = ti.field(ti.f32, shape=())
        self.state = ti.field(ti.i32, shape=4)
        self.flags = ti.field(ti.i32, shape=2)  # [this step is bad, this step improved on the best]
        # This step's bias corrections and rate scale, computed once a step rather than once a component
        # (a free texture has hundreds of thousands): [1 / (1 - beta1^t), 1 / (1 - beta2^t), scale].
        self.factors = ti.field(ti.f32, shape=3)
        if self.n:
            uploads.add(self.index, np.asarray(offsets, dtype=np.int32))
            uploads.add(self.lr, np.asarray(lr, dtype=np.float32))
            big = np.float32(3e38)
            uploads.add(self.lower, np.clip(np.asarray(lower, dtype=np.float32), -big, big))
            uploads.add(self.upper, np.clip(np.asarray(upper, dtype=np.float32), -big, big))
        self.best_loss[None] = 3e38
        uploads.add(self.state, np.array([0, 0, -1, -1], dtype=np.int32))
        uploads.flush()
        self.guarded = loss is not None
        self._build(pool, loss, beta1, beta2, eps)

    def _build(self, pool, loss, beta1, beta2, eps):
        index, lrs, lo, hi, m, v = self.index, self.lr, self.lower, self.upper, self.m, self.v
        best, best_loss, state, flags, count, guarded = self.best, self.best_loss, self.state, self.flags, self.n, self.guarded
        unit, n_unit, factors = self.unit, self.n_unit, self.factors
        STEPS, HALVINGS, BEST_ITERATION, LAST_ROLLBACK = range(4)

        normalise_units = unit_normaliser(pool, index, unit, n_unit)

        @ti.kernel
        def step(iteration: ti.i32, lr_scale: ti.f32):
            # --- the guard: is this step's loss and gradient finite; is the loss the best so far? ----------
            if ti.static(guarded):
                for i in range(count):
                    if not_finite(pool.grad[index[i]]):
                        flags[0] = 1
                for _ in range(1):
                    if not_finite(loss[None]):
                        flags[0] = 1
                    if flags[0] == 1:
                        state[HALVINGS] += 1
                        state[LAST_ROLLBACK] = iteration
                        state[STEPS] = 0  # Adam restarts from the best values
                    elif loss[None] < best_loss[None]:
                        best_loss[None] = loss[None]
                        state[BEST_ITERATION] = iteration
                        flags[1] = 1
            # --- the step ---------------------------------------------------------------------------------
            for _ in range(1):
                if flags[0] == 0:
                    state[STEPS] += 1
                t = ti.cast(state[STEPS], ti.f32)
                factors[0] = 1.0 / (1.0 - ti.pow(beta1, t))
                factors[1] = 1.0 / (1.0 - ti.pow(beta2, t))
                factors[2] = lr_scale * ti.pow(0.5, ti.cast(state[HALVINGS], ti.f32))
            for i in range(count):
                k = index[i]
                if flags[0] == 1:
                    pool[k] = best[i]
                    m[i] = 0.0
                    v[i] = 0.0
                else:
                    if flags[1] == 1:
                        best[i] = pool[k]
                    g = pool.grad[k]
                    m[i] = beta1 * m[i] + (1.0 - beta1) * g
                    v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
                    m_hat = m[i] * factors[0]
                    v_hat = v[i] * factors[1]
                    scale = factors[2]
                    pool[k] = ti.min(ti.max(pool[k] - lrs[i] * scale * m_hat / (ti.sqrt(v_hat) + eps), lo[i]), hi[i])
            normalise_units()
            for _ in range(1):
                flags[0] = 0
                flags[1] = 0

        @ti.kernel
        def project():
            for i in range(count):
                k = index[i]
                pool[k] = ti.min(ti.max(pool[k], lo[i]), hi[i])
            normalise_units()
            for i in range(count):
                best[i] = pool[index[i]]

        self._step = step
        self._project = project

    def project(self) -> None:
        """Clamp the free values onto their bounds (e.g. a starting guess outside them); they become the
        best values so far, with no loss yet."""
        self._project()

    def restart(self, lr, lower, upper) -> None:
        """Start over (a new fit on the same fields): rates and bounds as the constructor takes them,
        the moments, step count and guard zeroed, the current values projected and taken as the best."""
        if self.n:
            big = np.float32(3e38)
            self.lr.from_numpy(np.asarray(lr, dtype=np.float32))
            self.lower.from_numpy(np.clip(np.asarray(lower, dtype=np.float32), -big, big))
            self.upper.from_numpy(np.clip(np.asarray(upper, dtype=np.float32), -big, big))
        self.load_state_arrays({
            "adam_m": np.zeros(self.m.shape, dtype=np.float32),
            "adam_v": np.zeros(self.v.shape, dtype=np.float32),
            "adam_best": np.zeros(self.best.shape, dtype=np.float32),
            "adam_best_loss": np.array(3e38, dtype=np.float32),
            "adam_state": np.array([0, 0, -1, -1], dtype=np.int32),
        })
        self.project()

    def step(self, lr_scale: float = 1.0, iteration: int = 0) -> None:
        """One step from the gradients in ``pool.grad``; ``lr_scale`` multiplies every rate (decay)."""
        self._step(iteration, lr_scale)

    def read_state(self) -> dict:
        """The guard's state (one device read): steps, halvings, best_iteration, last_rollback, best_loss."""
        s = self.state.to_numpy()
        return {
            "steps": int(s[self.STEPS]),
            "halvings": int(s[self.HALVINGS]),
            "best_iteration": int(s[self.BEST_ITERATION]),
            "last_rollback": int(s[self.LAST_ROLLBACK]),
            "best_loss": float(self.best_loss[None]),
        }

    # --- checkpoints ----------------------------------------------------------------------------------
    STATE_ARRAYS = ("adam_m", "adam_v", "adam_best", "adam_best_loss", "adam_state")

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to continue exactly where this optimiser is (host copies)."""
        return {
            "adam_m": self.m.to_numpy(),
            "adam_v": self.v.to_numpy(),
            "adam_best": self.best.to_numpy(),
            "adam_best_loss": np.array(self.best_loss[None], dtype=np.float32),
            "adam_state": self.state.to_numpy(),
        }

    def state_shapes(self) -> dict[str, tuple]:
        """The shape of each of :meth:`state_arrays`' arrays (``adam_best_loss`` may also be saved as one
        element of any shape)."""
        return {"adam_m": self.m.shape, "adam_v": self.v.shape, "adam_best": self.best.shape,
                "adam_best_loss": (), "adam_state": self.state.shape}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` returned."""
        self.m.from_numpy(arrays["adam_m"].astype(np.float32))
        self.v.from_numpy(arrays["adam_v"].astype(np.float32))
        self.best.from_numpy(arrays["adam_best"].astype(np.float32))
        self.best_loss[None] = float(arrays["adam_best_loss"])
        self.state.from_numpy(arrays["adam_state"].astype(np.int32))
