"""The floor: the fastest one Adam iteration of three_spheres can be in Taichi's scalar CPU code.

    python benchmarks/floor.py [--iterations 20] [--no-raydiff] [--no-mitsuba] [--no-numpy]

Evidence for issue 11's 10x target (about 5 ms per iteration at 256x256, 4 spp, against Mitsuba 3
``direct``), not a product. It runs hand-written Taichi kernels that do only the irreducible work of one
iteration on three_spheres' geometry (scenes/three_spheres.yaml: 3 spheres over a floor quad, the point
light at its true position), 262,144 samples (256 x 256 x 4):

1. *render*: per sample a camera ray (hashed jitter), the nearest of the 3 spheres and the quad, one shadow
   ray to the point light (any of the 4 primitives), Lambert shading, an atomic add into the image;
2. *loss*: the MSE's derivative per pixel against a target (the image of the light moved by 0.2);
3. *gradient*: the same tracing again with another seed (the gradient's own samples, as raydiff's
   decorrelated estimate), the derivative of the Lambert term with respect to the light's position
   written by hand, times the pixel's loss derivative, summed per thread (0-D fields, which Taichi
   reduces thread-locally);
4. *Adam* on the light's 3 coordinates (one serial kernel).

No BVH, no hit records, no material or light pieces, no boundary terms: what is left when raydiff's
generality is taken away. Each configuration runs in its own process: the floor on one thread and on
every core, raydiff's real fit step on three_spheres (as `benchmarks/versus_mitsuba.py`'s ``cpu/plain``
child: its light's position free, boundary terms off, the same estimator), Mitsuba 3 ``direct``
(`benchmarks/versus_mitsuba.py`'s child; when installed; wall time only) and a numpy-vectorised version of the floor (one thread of numpy's C loops, float64 where
numpy promotes: a reference for what plain array code does; at most 3 iterations, it is slow). It prints
the median ms of each and their ratios to the floor on every core.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

WIDTH, HEIGHT, SPP = 256, 256, 4
EYE, LOOK_AT, FOV = (0.0, 1.6, 4.2), (0.0, 0.3, 0.0), 40.0  # fov: horizontal, as raydiff's camera
SPHERES = ((-0.9, 0.45, 0.2, 0.45), (0.3, 0.35, -0.6, 0.35), (1.0, 0.3, 0.6, 0.3))  # centre, radius
ALBEDOS = ((0.8, 0.15, 0.1), (0.15, 0.7, 0.2), (0.1, 0.25, 0.8), (0.75, 0.75, 0.75))  # the spheres, the floor
FLOOR = ((-4.0, 0.0, 4.0), (8.0, 0.0, 0.0), (0.0, 0.0, -8.0))  # origin, edge1, edge2 (y = 0)
LIGHT, INTENSITY = (1.0, 1.5, -0.5), 12.0


def camera_frame():
    """``(eye, forward, right * tan, up * tan / aspect)`` of the benchmark's camera."""
    import numpy as np

    eye, target = np.array(EYE), np.array(LOOK_AT)
    f = (target - eye) / np.linalg.norm(target - eye)
    r = np.cross(f, (0.0, 1.0, 0.0))
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    tan = math.tan(math.radians(FOV) / 2)
    return eye, f, r * tan, u * tan * HEIGHT / WIDTH


def timed(step, iterations: int, sync) -> dict:
    """``{"ms", "cpu_ms"}``: the median wall and CPU (every thread's) milliseconds of ``step()`` after two
    warm-up calls (the first compiles)."""
    for _ in range(2):
        step()
    sync()
    wall, cpu = [], []
    for _ in range(iterations):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return {"ms": statistics.median(wall), "cpu_ms": statistics.median(cpu)}


def raydiff_times(iterations: int) -> dict:
    """raydiff's fit step on three_spheres at the floor's film, its light's position free, Adam, no
    boundary terms (as ``benchmarks/versus_mitsuba.py``'s ``cpu/plain`` child, timed by :func:`timed`)."""
    import numpy as np
    import taichi as ti

    import raydiff
    from raydiff.io.images import Reference
    from raydiff.optim.fit import Fitter, FitSettings
    from versus_mitsuba import benchmark_scene

    raydiff.init("cpu")
    scene = benchmark_scene("three_spheres", WIDTH, HEIGHT, SPP)
    reference = Reference("<rendered>", np.clip(raydiff.render(scene, spp=SPP, seed=1), 0, 1), True)
    settings = FitSettings(iterations=iterations + 10, tol=0.0, boundary=False, optimizer="adam")
    return timed(Fitter(scene, reference, settings).step, iterations, ti.sync)


def floor_times(iterations: int, one_thread: bool) -> dict:
    """The Taichi floor's median ms per iteration, wall and CPU (in the child process)."""
    import taichi as ti

    import raydiff
    from raydiff.kernels.sampling import hash_u32, to_unit_float

    raydiff.init("cpu", deterministic=one_thread)  # deterministic: the CPU backend on one thread
    eye, fwd, right, up = (ti.Vector(list(v)) for v in camera_frame())
    spheres = [(ti.Vector(list(s[:3])), s[3]) for s in SPHERES]
    albedo = [ti.Vector(list(a)) for a in ALBEDOS]
    f_origin = ti.Vector(list(FLOOR[0]))
    f_e1, f_e2 = ti.Vector(list(FLOOR[1])), ti.Vector(list(FLOOR[2]))
    image = ti.Vector.field(3, ti.f32, shape=(HEIGHT, WIDTH))
    target = ti.Vector.field(3, ti.f32, shape=(HEIGHT, WIDTH))
    dimage = ti.Vector.field(3, ti.f32, shape=(HEIGHT, WIDTH))
    light = ti.field(ti.f32, shape=3)
    grad = [ti.field(ti.f32, shape=()) for _ in range(3)]
    adam_m, adam_v = ti.field(ti.f32, shape=3), ti.field(ti.f32, shape=3)
    big = 1e30

    @ti.func
    def nearest(o, d):
        """``(t, which)``: the nearest hit of the ray among the spheres (0-2) and the floor (3), -1 none."""
        best, which = big, -1
        for k in ti.static(range(3)):
            oc = o - spheres[k][0]
            b = oc.dot(d)
            disc = b * b - (oc.dot(oc) - spheres[k][1] ** 2)
            if disc > 0.0:
                t = -b - ti.sqrt(disc)
                if 1e-4 < t < best:
                    best, which = t, k
        if ti.abs(d[1]) > 1e-12:  # the floor lies in y = 0
            t = (f_origin[1] - o[1]) / d[1]
            q = o + t * d - f_origin
            a, c = q.dot(f_e1) / f_e1.dot(f_e1), q.dot(f_e2) / f_e2.dot(f_e2)
            if 1e-4 < t < best and 0.0 <= a <= 1.0 and 0.0 <= c <= 1.0:
                best, which = t, 3
        return best, which

    @ti.func
    def sample(seed, y, x, s, c):
        """``(lit, p, n, rho)``: whether the sample's hit sees the light at ``c``, its point, normal, albedo."""
        h = hash_u32(hash_u32(seed) ^ ti.cast((y * WIDTH + x) * SPP + s, ti.u32))
        jx, jy = to_unit_float(h), to_unit_float(hash_u32(h ^ ti.u32(0x68E31DA4)))
        fx, fy = 2.0 * (x + jx) / WIDTH - 1.0, 1.0 - 2.0 * (y + jy) / HEIGHT
        d = (fwd + fx * right + fy * up).normalized()
        t, which = nearest(eye, d)
        lit, p, n, rho = False, eye, d, ti.Vector([0.0, 0.0, 0.0])
        if which >= 0:
            p = eye + t * d
            n = ti.Vector([0.0, 1.0, 0.0])
            for k in ti.static(range(3)):
                if which == k:
                    n = (p - spheres[k][0]) / spheres[k][1]
            for k in ti.static(range(4)):
                if which == k:
                    rho = albedo[k]
            to_light = c - p
            dist = to_light.norm()
            wi = to_light / dist
            if n.dot(wi) > 0.0:
                ts, _ = nearest(p + 1e-4 * n, wi)
                lit = ts >= dist
        return lit, p, n, rho

    @ti.kernel
    def render(seed: ti.u32):
        c = ti.Vector([light[0], light[1], light[2]])
        for y, x, s in ti.ndrange(HEIGHT, WIDTH, SPP):
            lit, p, n, rho = sample(seed, y, x, s, c)
            if lit:
                d = c - p
                r2 = d.dot(d)
                image[y, x] += rho * (INTENSITY / math.pi / SPP * n.dot(d) / (r2 * ti.sqrt(r2)))

    @ti.kernel
    def loss():
        for y, x in image:
            dimage[y, x] = 2.0 * (image[y, x] - target[y, x]) / (WIDTH * HEIGHT * 3)
            image[y, x] = ti.Vector([0.0, 0.0, 0.0])  # ready for the next render

    @ti.kernel
    def gradient(seed: ti.u32):
        c = ti.Vector([light[0], light[1], light[2]])
        for y, x, s in ti.ndrange(HEIGHT, WIDTH, SPP):
            lit, p, n, rho = sample(seed, y, x, s, c)
            if lit:  # d/dc of (n . d) / r^3 with d = c - p: n / r^3 - 3 (n . d) d / r^5
                d = c - p
                r2 = d.dot(d)
                r3 = r2 * ti.sqrt(r2)
                dfdc = n / r3 - 3.0 * n.dot(d) / (r3 * r2) * d
                w = dimage[y, x].dot(rho) * (INTENSITY / math.pi / SPP)
                for k in ti.static(range(3)):
                    grad[k][None] += w * dfdc[k]

    @ti.kernel
    def adam(step: ti.i32):
        ti.loop_config(serialize=True)
        for k in range(3):
            g = grad[0][None]
            if k == 1:
                g = grad[1][None]
            elif k == 2:
                g = grad[2][None]
            adam_m[k] = 0.9 * adam_m[k] + 0.1 * g
            adam_v[k] = 0.999 * adam_v[k] + 0.001 * g * g
            mh = adam_m[k] / (1.0 - 0.9 ** step)
            vh = adam_v[k] / (1.0 - 0.999 ** step)
            light[k] -= 0.01 * mh / (ti.sqrt(vh) + 1e-8)
        for k in ti.static(range(3)):
            grad[k][None] = 0.0

    light.from_numpy(__import__("numpy").array([LIGHT[0] + 0.2, LIGHT[1], LIGHT[2]], "float32"))
    render(7)
    target.copy_from(image)
    light.from_numpy(__import__("numpy").array(LIGHT, "float32"))
    image.fill(0.0)
    state = {"step": 0}

    def step():
        state["step"] += 1
        render(2 * state["step"])
        loss()
        gradient(2 * state["step"] + 1)
        adam(state["step"])

    return timed(step, iterations, ti.sync)


def numpy_times(iterations: int) -> dict:
    """The same iteration with numpy arrays over all samples at once (median ms; in the child)."""
    import numpy as np

    eye, fwd, right, up = camera_frame()
    rng = np.random.default_rng(0)
    y, x = np.divmod(np.repeat(np.arange(WIDTH * HEIGHT), SPP), WIDTH)
    centres = np.array([s[:3] for s in SPHERES])
    radii = np.array([s[3] for s in SPHERES])
    albedo = np.array(ALBEDOS, np.float32)
    origin, e1, e2 = (np.array(v) for v in FLOOR)

    def nearest(o, d):
        o = np.broadcast_to(o, d.shape)
        best = np.full(len(d), np.inf, np.float32)
        which = np.full(len(d), -1)
        for k in range(3):
            oc = o - centres[k]
            b = np.einsum("ij,ij->i", oc, d)
            disc = b * b - (np.einsum("ij,ij->i", oc, oc) - radii[k] ** 2)
            t = -b - np.sqrt(np.maximum(disc, 0.0))
            ok = (disc > 0) & (t > 1e-4) & (t < best)
            best, which = np.where(ok, t, best), np.where(ok, k, which)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (origin[1] - o[..., 1]) / d[:, 1]
        q = o + t[:, None] * d - origin
        a, c = q @ e1 / (e1 @ e1), q @ e2 / (e2 @ e2)
        ok = (t > 1e-4) & (t < best) & (a >= 0) & (a <= 1) & (c >= 0) & (c <= 1)
        return np.where(ok, t, best), np.where(ok, 3, which)

    def trace(c):
        jx, jy = rng.random(len(x), np.float32), rng.random(len(x), np.float32)
        fx, fy = 2 * (x + jx) / WIDTH - 1, 1 - 2 * (y + jy) / HEIGHT
        d = (fwd + fx[:, None] * right + fy[:, None] * up).astype(np.float32)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        t, which = nearest(eye, d)
        hit = which >= 0
        d, t, which, pix = d[hit], t[hit], which[hit], (y * WIDTH + x)[hit]
        p = eye + t[:, None] * d
        n = np.where((which == 3)[:, None], np.float32([0, 1, 0]),
                     (p - centres[np.minimum(which, 2)]) / radii[np.minimum(which, 2)][:, None])
        to_light = c - p
        dist = np.linalg.norm(to_light, axis=1)
        ts, _ = nearest(p + 1e-4 * n, to_light / dist[:, None])
        lit = (np.einsum("ij,ij->i", n, to_light) > 0) & (ts >= dist)
        return to_light[lit], n[lit], albedo[which[lit]], pix[lit]

    def render(c):
        d, n, rho, pix = trace(c)
        r2 = np.einsum("ij,ij->i", d, d)
        value = rho * (INTENSITY / math.pi / SPP * np.einsum("ij,ij->i", n, d) / (r2 * np.sqrt(r2)))[:, None]
        image = np.zeros((WIDTH * HEIGHT, 3), np.float32)
        for k in range(3):
            image[:, k] = np.bincount(pix, value[:, k], WIDTH * HEIGHT)
        return image

    light = np.array(LIGHT)
    target = render(light + (0.2, 0.0, 0.0))
    m = v = np.zeros(3)
    state = {"step": 0}

    def step():
        nonlocal light, m, v
        state["step"] += 1
        dimage = 2 * (render(light) - target) / target.size
        d, n, rho, pix = trace(light)
        r2 = np.einsum("ij,ij->i", d, d)
        r3 = r2 * np.sqrt(r2)
        dfdc = n / r3[:, None] - (3 * np.einsum("ij,ij->i", n, d) / (r3 * r2))[:, None] * d
        w = np.einsum("ij,ij->i", dimage[pix], rho) * (INTENSITY / math.pi / SPP)
        g = w @ dfdc
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        t = state["step"]
        light = light - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)

    return timed(step, iterations, lambda: None)


def run(cmd: list[str]) -> dict | None:
    """A child's ``{"ms", "cpu_ms"}``, or None if it failed."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"    ({' '.join(cmd[2:])} failed: {out.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-raydiff", action="store_true")
    parser.add_argument("--no-mitsuba", action="store_true")
    parser.add_argument("--no-numpy", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "numpy":
            os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported: one thread
            times = numpy_times(args.iterations)
        elif args.child == "raydiff":
            times = raydiff_times(args.iterations)
        else:
            times = floor_times(args.iterations, one_thread=args.child == "floor1")
        print(json.dumps(times))
        return 0

    own = [sys.executable, __file__, "--iterations", str(args.iterations), "--child"]
    versus = SimpleNamespace(width=WIDTH, height=HEIGHT, spp=SPP, iterations=args.iterations, primary_sets=0,
                       primary_refresh=0)  # its child's
    from versus_mitsuba import run_child

    rows = [("floor, Taichi, 1 thread", run(own + ["floor1"])),
            (f"floor, Taichi, every core ({os.cpu_count()})", run(own + ["floor"]))]
    if not args.no_numpy:
        numpy_cmd = [sys.executable, __file__, "--iterations", str(min(args.iterations, 3)), "--child", "numpy"]
        rows.append(("floor, numpy (1 thread; median of 3 at most)", run(numpy_cmd)))
    if not args.no_raydiff:
        rows.append(("raydiff fit step (no boundary terms)", run(own + ["raydiff"])))
    mitsuba = None
    if not args.no_mitsuba:
        ms = run_child(versus, "mitsuba", "three_spheres")
        mitsuba = ms
        rows.append(("Mitsuba 3 direct (llvm_ad_rgb)", {"ms": ms, "cpu_ms": None} if ms else None))
    best = rows[1][1]["ms"] if rows[1][1] else None
    print(f"one Adam iteration, three_spheres, {WIDTH}x{HEIGHT}, {SPP} spp ({WIDTH * HEIGHT * SPP} samples), "
          f"the light's position free; median of {args.iterations}; load {os.getloadavg()[0]:.1f}")
    print(f"{'':46s} {'ms':>8s} {'CPU ms':>8s} {'/ floor (every core)':>21s}")
    for name, times in rows:
        if times is None:
            print(f"{name:46s} {'-':>8s}")
            continue
        cpu = f"{times['cpu_ms']:8.1f}" if times["cpu_ms"] is not None else f"{'-':>8s}"
        ratio = f"{times['ms'] / best:20.1f}x" if best else ""
        print(f"{name:46s} {times['ms']:8.1f} {cpu} {ratio}")
    if mitsuba and best:
        print(f"10x Mitsuba would be {mitsuba / 10:.1f} ms: {mitsuba / 10 / best:.2f} times the floor's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
