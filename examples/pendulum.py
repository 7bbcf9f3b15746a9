"""A simulator in the loop: recover a pendulum's length, initial angle and damping from 20 rendered frames.

A damped pendulum (a sphere, the bob, on a fixed and known pivot) swings in the plane facing the camera,
in front of a wall and over a floor, lit by a point light that throws the bob's shadow on the wall. Its
motion is simulated in Taichi with autodiff (semi-implicit Euler of
``theta'' = -(g / L) sin(theta) - c theta'``, released at rest from ``theta0``, a few sub-steps per frame),
giving the bob's centre at 20 time steps; raydiff renders those 20 frames. From 20 reference frames
rendered with the true length L, initial angle theta0 and damping c, Adam on (L, theta0, c) recovers all
three, the gradient flowing through both:

    d loss / d (L, theta0, c) = (d centres / d (L, theta0, c))^T  d loss / d centres

the renderer giving ``d loss_f / d centre_f`` for every frame (:meth:`raydiff.Objective.frames`, the
vector-Jacobian product of the renderer, boundary terms included: the bob's outline and shadow move), and
the simulation's backward pass (Taichi's autodiff, its centres' ``grad`` seeded with the renderer's) the
rest. The physics parameters, their gradient and Adam's state stay in Taichi fields; the only transfers
per iteration are the 20 centres out and their gradients in.

Usage::

    python examples/pendulum.py            # 96 x 72, writes outputs/pendulum/ (frames, GIFs), prints errors
    python examples/pendulum.py --gradcheck    # the chained gradient against central differences

tests/test_pendulum.py runs :func:`recover` at 32 x 24, and :func:`gradient_check`.
"""

import argparse
import os
import time

import numpy as np
import taichi as ti

import raydiff
from raydiff.scene.model import Camera, Film, PointLight, Quad, Scene, Sphere

GRAVITY = 9.81
PIVOT = (0.0, 1.75, 0.0)
BOB = "objects.bob.center"
BOB_RADIUS = 0.13
NAMES = ("length", "angle", "damping")
#: The true physics: length (m), initial angle (rad, released at rest), damping (1/s).
TRUTH = np.array([1.0, 0.6, 0.3])
#: Where the fit starts: 8% too long, 15% too small an angle, 50% too much damping.
START = np.array([1.08, 0.51, 0.45])
#: Adam's first step per parameter, in its own units (it decays to 1/100 of that over the fit).
LEARNING_RATES = np.array([0.01, 0.01, 0.02])
LOWER = np.array([0.3, -1.5, 0.0])
UPPER = np.array([2.0, 1.5, 3.0])


def pendulum_scene(width: int, height: int, spp: int) -> Scene:
    """The bob at rest under its pivot (the pivot a small sphere), a wall behind, a floor, a point light."""
    wall = Quad("wall", origin=(-3.0, 0.0, -0.6), edge1=(6.0, 0.0, 0.0), edge2=(0.0, 3.5, 0.0), albedo=(0.75, 0.75, 0.7))
    floor = Quad("floor", origin=(-3.0, 0.0, -0.6), edge1=(0.0, 0.0, 4.0), edge2=(6.0, 0.0, 0.0), albedo=(0.5, 0.55, 0.6))
    pivot = Sphere("pivot", center=PIVOT, radius=0.04, albedo=(0.2, 0.2, 0.2))
    bob = Sphere("bob", center=(PIVOT[0], PIVOT[1] - TRUTH[0], PIVOT[2]), radius=BOB_RADIUS, albedo=(0.9, 0.35, 0.15))
    camera = Camera(position=(0.0, 1.15, 3.2), look_at=(0.0, 1.05, 0.0), fov=42.0)
    light = PointLight("key", (1.2, 2.9, 2.2), (14.0, 14.0, 14.0))
    return Scene(camera=camera, film=Film(width, height, spp), objects=(wall, floor, pivot, bob), lights=(light,))


class Pendulum:
    """The damped pendulum, simulated in Taichi with autodiff: (L, theta0, c) in, the bob's centres out.

    Parameters
    ----------
    frames : int
        Time steps at which the bob's centre is reported (frame 0 is the release, at rest).
    substeps : int
        Semi-implicit Euler steps per frame.
    frame_dt : float
        Seconds between frames.

    Attributes
    ----------
    params : ti.field (3,), needs_grad
        Length, initial angle, damping.
    center : ti.Vector.field (frames,), needs_grad
        The bob's centre per frame; seed its ``grad`` and call :meth:`backward`.
    """

    def __init__(self, frames: int = 20, substeps: int = 10, frame_dt: float = 0.1):
        self.frames, self.substeps = frames, substeps
        steps = self.steps = (frames - 1) * substeps  # the last frame is at step (frames - 1) * substeps
        self.params = ti.field(ti.f32, shape=3, needs_grad=True)
        self.theta = ti.field(ti.f32, shape=steps + 1, needs_grad=True)
        self.omega = ti.field(ti.f32, shape=steps + 1, needs_grad=True)
        self.center = ti.Vector.field(3, ti.f32, shape=frames, needs_grad=True)
        params, theta, omega, center = self.params, self.theta, self.omega, self.center
        dt = frame_dt / substeps
        px, py, pz = PIVOT

        @ti.kernel
        def release():
            theta[0] = params[1]
            omega[0] = 0.0

        @ti.kernel
        def step(i: ti.i32):
            length, damping = params[0], params[2]
            w = omega[i] + dt * (-(GRAVITY / length) * ti.sin(theta[i]) - damping * omega[i])
            omega[i + 1] = w
            theta[i + 1] = theta[i] + dt * w

        @ti.kernel
        def place():
            for f in center:
                angle = theta[f * substeps]
                center[f] = ti.Vector([px + params[0] * ti.sin(angle), py - params[0] * ti.cos(angle), pz])

        self._release, self._step, self._place = release, step, place

    def forward(self) -> None:
        """Simulate with the current ``params`` into ``center`` (on the device)."""
        self._release()
        for i in range(self.steps):
            self._step(i)
        self._place()

    def backward(self) -> None:
        """``params.grad`` from ``center.grad`` (after :meth:`forward` with unchanged ``params``)."""
        for f in (self.params, self.theta, self.omega):
            f.grad.fill(0.0)
        self._place.grad()
        for i in reversed(range(self.steps)):
            self._step.grad(i)
        self._release.grad()

    def centres(self, params) -> np.ndarray:
        """The bob's centres (frames, 3) for ``params`` (a host convenience: one write, one read)."""
        self.params.from_numpy(np.asarray(params, dtype=np.float32))
        self.forward()
        return self.center.to_numpy().astype(np.float64)


class Adam:
    """Adam on a small field of parameters, on the device, with per-parameter steps and bounds."""

    def __init__(self, params, lr, lower, upper, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-12):
        n = params.shape[0]
        self.m, self.v = ti.field(ti.f32, shape=n), ti.field(ti.f32, shape=n)
        self.lr, self.lower, self.upper = (ti.field(ti.f32, shape=n) for _ in range(3))
        for f, values in ((self.lr, lr), (self.lower, lower), (self.upper, upper)):
            f.from_numpy(np.asarray(values, dtype=np.float32))
        m, v, rate, low, high = self.m, self.v, self.lr, self.lower, self.upper

        @ti.kernel
        def step(t: ti.i32, scale: ti.f32):
            for i in range(n):
                g = params.grad[i]
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                m_hat = m[i] / (1 - ti.pow(beta1, t + 1))
                v_hat = v[i] / (1 - ti.pow(beta2, t + 1))
                params[i] = ti.min(ti.max(params[i] - scale * rate[i] * m_hat / (ti.sqrt(v_hat) + eps), low[i]), high[i])

        self._step = step

    def reset(self, lr=None) -> None:
        """Start over (moments zero), with new steps per parameter if given."""
        self.m.fill(0.0)
        self.v.fill(0.0)
        if lr is not None:
            self.lr.from_numpy(np.asarray(lr, dtype=np.float32))

    def step(self, t: int, scale: float = 1.0) -> None:
        self._step(t, scale)


class PendulumProblem:
    """The recovery problem: simulator, renderer (one :class:`raydiff.Objective`, built once) and references.

    Parameters
    ----------
    width, height, spp : int
        The film and the samples per pixel of the fit's renders.
    frames, substeps, frame_dt
        See :class:`Pendulum`.
    reference_spp : int
        Samples per pixel of the reference frames (rendered from :data:`TRUTH`).
    truth : array (3,)
    """

    def __init__(self, width: int = 32, height: int = 24, spp: int = 4, frames: int = 20, substeps: int = 10,
                 frame_dt: float = 0.1, reference_spp: int = 256, truth=TRUTH, edge_samples: int | None = None):
        self.truth = np.asarray(truth, dtype=np.float64)
        self.sim = Pendulum(frames, substeps, frame_dt)
        self.objective = raydiff.Objective(pendulum_scene(width, height, spp), free=[BOB], spp=spp,
                                           edge_samples=edge_samples)
        self.true_centres = self.sim.centres(self.truth)
        self.reference_frames = self.objective.render_frames({BOB: self.true_centres}, seed=7919, spp=reference_spp)
        self.references = self.objective.prepare_frames(self.reference_frames)
        self.adam = Adam(self.sim.params, LEARNING_RATES, LOWER, UPPER)

    def loss_and_grad(self, seed: int) -> float:
        """The summed loss of every frame at the current ``sim.params``; ``d loss / d params`` into
        ``sim.params.grad`` (simulator forward, renderer per frame, simulator backward)."""
        self.sim.forward()
        losses, grads = self.objective.frames({BOB: self.sim.center.to_numpy()}, self.references, seed=seed)
        self.sim.center.grad.from_numpy(grads[BOB].astype(np.float32))
        self.sim.backward()
        return float(losses.sum())

    def gradient(self, params, seed: int) -> tuple[float, np.ndarray]:
        """Host convenience for checks: the loss and ``d loss / d params`` at ``params``."""
        self.sim.params.from_numpy(np.asarray(params, dtype=np.float32))
        loss = self.loss_and_grad(seed)
        return loss, self.sim.params.grad.to_numpy().astype(np.float64)

    def loss(self, params, seed: int) -> float:
        """The summed loss alone at ``params``, with the samples :meth:`gradient` uses for ``seed``."""
        centres = self.sim.centres(params)
        return float(self.objective.frame_values({BOB: centres}, self.references, seed=seed).sum())

    def fit(self, start=START, iterations: int = 150, lr=LEARNING_RATES, final_lr: float = 0.01, seed: int = 0,
            log_every: int = 0) -> dict:
        """Adam on (length, angle, damping) from ``start``; the step decays exponentially to ``final_lr``
        times ``lr``. Returns the recovered values, the relative errors, the loss history and seconds."""
        self.sim.params.from_numpy(np.asarray(start, dtype=np.float32))
        adam = self.adam
        adam.reset(lr)
        decay = final_lr ** (1.0 / max(iterations - 1, 1))
        history, began = [], time.perf_counter()
        for i in range(iterations):
            history.append(self.loss_and_grad(seed=(seed * 1_000_003 + i) & 0xFFFFFFFF))
            adam.step(i, decay**i)
            if log_every and (i % log_every == 0 or i == iterations - 1):
                print(f"iteration {i:4d}  loss {history[-1]:.6f}  " +
                      "  ".join(f"{n} {v:.4f}" for n, v in zip(NAMES, self.sim.params.to_numpy())), flush=True)
        values = self.sim.params.to_numpy().astype(np.float64)
        return {"values": dict(zip(NAMES, values)), "start": dict(zip(NAMES, np.asarray(start, float))),
                "errors": dict(zip(NAMES, np.abs(values - self.truth) / np.abs(self.truth))),
                "history": np.array(history), "seconds": time.perf_counter() - began}


def recover(width: int = 32, height: int = 24, spp: int = 4, iterations: int = 150, seed: int = 0, **options) -> dict:
    """Build the problem at this size and fit from :data:`START`; see :meth:`PendulumProblem.fit`."""
    problem = PendulumProblem(width, height, spp, **options)
    result = problem.fit(iterations=iterations, seed=seed)
    result["problem"] = problem
    return result


#: The chained gradient's check: 4 frames 0.25 s apart at 24 x 18, 64 x 64 stratified samples per pixel.
CHECK = dict(width=24, height=18, spp=64 * 64, frames=4, substeps=10, frame_dt=0.25, reference_spp=64 * 64,
             edge_samples=4096)
CHECK_AT = np.array([1.04, 0.56, 0.4])
CHECK_STEPS = np.array([0.004, 0.004, 0.02])


def gradient_check(at=CHECK_AT, steps=CHECK_STEPS, seeds=(1, 2), fd_seed: int = 5) -> dict:
    """The chained gradient ``d loss / d (L, theta0, c)`` (simulator and renderer, averaged over
    ``seeds``) against central differences of the whole chain's loss with one seed on both sides (common
    random numbers), at the :data:`CHECK` size. Returns both and the relative error per parameter."""
    problem = PendulumProblem(**CHECK)
    at = np.asarray(at, dtype=np.float64)
    gradient = np.mean([problem.gradient(at, seed)[1] for seed in seeds], axis=0)
    fd = np.zeros(3)
    for k in range(3):
        plus, minus = at.copy(), at.copy()
        plus[k] += steps[k]
        minus[k] -= steps[k]
        fd[k] = (problem.loss(plus, seed=fd_seed) - problem.loss(minus, seed=fd_seed)) / (2.0 * steps[k])
    return {"gradient": gradient, "central_differences": fd, "errors": np.abs(gradient - fd) / np.abs(fd)}


def _save(problem: PendulumProblem, result: dict, folder: str) -> None:
    """Reference and fitted frames side by side, as PNGs and a GIF each, under ``folder``."""
    from raydiff.run.animation import write_gif

    os.makedirs(folder, exist_ok=True)
    fitted = problem.objective.render_frames({BOB: problem.sim.centres(list(result["values"].values()))},
                                             seed=7919, spp=problem.objective.integrator.spp * 16)
    start = problem.objective.render_frames({BOB: problem.sim.centres(list(result["start"].values()))},
                                            seed=7919, spp=problem.objective.integrator.spp * 16)
    paths = {"reference": [], "start_reference_fitted": []}
    for f, (ref, first, last) in enumerate(zip(problem.reference_frames, start, fitted)):
        path = os.path.join(folder, f"reference_{f:02d}.png")
        raydiff.write_image(path, ref[0])
        paths["reference"].append(path)
        path = os.path.join(folder, f"start_reference_fitted_{f:02d}.png")
        raydiff.write_image(path, np.concatenate([first[0], ref[0], last[0]], axis=1))
        paths["start_reference_fitted"].append(path)
    for name, frames in paths.items():
        write_gif(frames, os.path.join(folder, f"{name}.gif"), fps=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--height", type=int, default=72)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--out", default=os.path.join("outputs", "pendulum"))
    parser.add_argument("--gradcheck", action="store_true",
                        help="only check the chained gradient against central differences (tests/test_pendulum.py's check)")
    args = parser.parse_args()
    raydiff.init(args.backend)
    if args.gradcheck:
        began = time.perf_counter()
        check = gradient_check()
        for name, g, fd, error in zip(NAMES, check["gradient"], check["central_differences"], check["errors"]):
            print(f"d loss / d {name:8s} chained {g:+.6e}  central differences {fd:+.6e}  error {100 * error:.2f}%")
        print(f"({time.perf_counter() - began:.1f} s)")
        return
    began = time.perf_counter()
    problem = PendulumProblem(args.width, args.height, args.spp)
    print(f"{args.width}x{args.height}, {args.spp} spp, 20 frames; references rendered "
          f"({time.perf_counter() - began:.1f} s, compilation included)", flush=True)
    result = problem.fit(iterations=args.iterations, seed=args.seed, log_every=10)
    print(f"fit: {args.iterations} iterations in {result['seconds']:.1f} s "
          f"(total {time.perf_counter() - began:.1f} s with compilation and references)")
    for name in NAMES:
        truth = problem.truth[NAMES.index(name)]
        print(f"{name:8s} start {result['start'][name]:.4f}  recovered {result['values'][name]:.5f}  "
              f"truth {truth:.4f}  error {100 * result['errors'][name]:.3f}%")
    _save(problem, result, args.out)
    print(f"frames and GIFs in {args.out}/")


if __name__ == "__main__":
    main()
