"""Boundary terms: what moving outlines and shadow edges add to the gradient (edge sampling).

The shading pass differentiates the radiance *at fixed film points*. Where the image is discontinuous,
on an object's outline or a hard shadow's edge, moving a parameter also moves the discontinuity across
film points, and that is a second term of the derivative of every pixel (Reynolds' transport theorem, as
in Li et al. 2018, "Differentiable Monte Carlo ray tracing through edge sampling"):

    d/dθ ∫_pixel L(x) dx  =  ∫_pixel ∂L/∂θ dx  +  ∫_edges in the pixel (L₋ − L₊) (v · n) dl

``n`` is the curve's unit normal in the film, pointing from the side ``L₋`` to the side ``L₊``, and ``v``
is how fast the curve's points move with θ. Chained with the loss, the second term of d loss / dθ is

    Σ over curves  ∫ g(x) (L₋(x) − L₊(x)) (v(x) · n(x)) dl,      g = d loss / d pixel (``image.grad``)

Our primitives' discontinuity curves are known in closed form, so they are sampled directly instead of
searched for (docs/gradients.md gives the reasoning):

- **outlines**, per view: a sphere's silhouette, the circle of tangency seen from the camera's centre;
  every edge of a quad; every edge of a mesh but those between coplanar faces of one material (creases
  included: flat shading jumps across them);
- **shadow edges**, per view and light: the same curves seen from the light (a point light's position,
  or orthographically along a directional light), carried by the shadow ray through the curve point to
  the surface behind it (the *receiver*), and projected into the view.

Every curve is a *candidate*; each gets ``M`` stratified samples ``u`` in [0, 1). A sample's film point
``x(u)`` is found, its tangent by a central difference in ``u``, and ``L₋``, ``L₊`` by tracing the film
rays at ``x ∓ ε n`` with full shading and visibility (``ε`` a hundredth of a pixel): every light's for an
outline, the one light's for a shadow edge (only its term jumps across its shadow's edge; the other
lights' differ by ``O(ε)``), so a pass costs the candidates' samples times a shadow ray or two, linear
in the lights, not quadratic. Outline points that
something hides, or shadow points that the camera does not see, get ``L₋ = L₊`` by themselves or fail
the receiver check, and so add nothing.

Two kernels share one curve-point function:

1. **sample** (never differentiated): per sample, the weight ``w = g (L₋ − L₊) |dx/du| / M``, the
   normal ``n``, ``u`` and the receiver's hit record;
2. **edges** (differentiated): recomputes ``x(u; θ)`` from the pool and adds ``w (x · n)`` to a scalar,
   whose gradient, with ``w`` and ``n`` held fixed, is exactly the term above. It is straight-line code
   (branches, no loops), so it runs without an adstack, on Vulkan too.

The estimate is unbiased for any ``M``; ``M`` sets its noise. It costs about two film samples per edge
sample, plus a shadow ray and a check for shadow edges.

**Where the samples go.** A fixed ``M`` per curve spends as much on a mesh edge two pixels long, or one
that nothing can see, as on a quad's edge across the whole film: with a 1,200-triangle mesh, 30 times
the render's own cost. So by default (no ``samples_per_edge``) every pass first measures each curve: a
*pilot* of :data:`PILOT_SAMPLES` stratified points per curve, traced like the real samples up to the
film point (no side rays), gives its visible film length (the mean of ``|dx/du|`` over the points that
exist, are seen and fall on the film). The curves are then laid end to end, each with a share ``p_c``
of ``[0, 1)`` proportional to its length plus a floor (:data:`FLOOR_SHARE` of the mean, so that a curve
the pilot missed still has samples), and ``S`` samples are drawn *systematically* in that line
(``t = (s + jitter) / S``): curve ``c`` gets about ``S p_c`` of them, stratified along it, and a sample's
weight carries ``1 / (S p_c)`` instead of ``1 / M``. The estimate stays unbiased (every curve has a
positive share), its density is :data:`DENSITY` samples per pixel of visible curve wherever the curve
is, and ``S`` follows what is seen, not the number of edges (at most the fields' size). The plan is a
function of the seed, so common random numbers hold.
"""

import math
from typing import Optional

import numpy as np
import taichi as ti

from ..device.hitrecord import MISS, QUAD, SPHERE, TRIANGLE, far_of, index_of, kind_of
from .sampling import hash_u32, to_unit_float
from .surface import make_place

#: Default film offset, in pixels, at which the two sides of a curve are evaluated.
SIDE_OFFSET_PX = 0.01
#: At most this many edge samples per backward pass (candidates x samples per candidate).
MAX_SAMPLES = 1 << 20
POINT, DIRECTIONAL = 0, 1
DU = 1e-3  # the step in u of the tangent's central difference
#: The adaptive plan (see the module's docstring): pilot points per curve, samples per pixel of visible
#: curve, and the floor of a curve's share, as a fraction of the mean share.
PILOT_SAMPLES = 4
DENSITY = 8.0
FLOOR_SHARE = 0.05
UNIFORM, PILOT, PLANNED = 0, 1, 2  # how `sample` places its samples: M per curve, the pilot, by the plan


def mesh_edges(dev) -> list[tuple[int, int]]:
    """``(triangle, edge)`` for every distinct edge of the scene's meshes that can be a discontinuity.

    Edge ``e`` of triangle ``i`` joins its corners ``e`` and ``(e + 1) % 3`` (BVH order, as the device
    keeps them). An edge shared by two faces of one mesh that are coplanar, face the same way and have
    the same material (one mesh's) is left out: the image is continuous across it.
    """
    n = dev.n_triangles
    if n == 0:
        return []
    v0 = dev.tri_v0.to_numpy()[:n].astype(np.float64)
    corners = np.stack([v0, v0 + dev.tri_e1.to_numpy()[:n], v0 + dev.tri_e2.to_numpy()[:n]], axis=1)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)
    material = dev.tri_material.to_numpy()[:n]
    quantum = 1e-6 * max(dev.scale, 1e-12)
    keys = np.round(corners / quantum).astype(np.int64)
    faces = {}
    for i in range(n):
        for e in range(3):
            a, b = tuple(keys[i, e]), tuple(keys[i, (e + 1) % 3])
            faces.setdefault((min(a, b), max(a, b)), []).append((i, e))
    edges = []
    for shared in faces.values():
        if len(shared) == 2:
            (i, _), (j, _) = shared
            if normals[i] @ normals[j] > 1.0 - 1e-6 and material[i] == material[j]:
                continue
        edges.append(shared[0])
    return edges


#: The device groups whose parameters move outlines or shadow edges (a light's position or direction).
MOVING_GROUPS = ("camera", "geometry", "light")


def _channels(dev) -> tuple[bool, list[int]]:
    """Whether outlines can move (a camera or geometry is free) and which lights' shadow edges can."""
    free = {int(k) for k in dev.free_offsets}
    moves = bool({"camera", "geometry"} & dev.free_groups)
    lights = [l for l, (_, offset) in enumerate(dev.lights) if moves or free & set(range(offset, offset + 3))]
    return moves, lights


class Boundary:
    """Adds the boundary term of ``d loss / d pool`` to ``dev.pool.grad``, reading ``integrator.image.grad``.

    Parameters
    ----------
    integrator : raydiff.kernels.integrator.Integrator
        The scene's integrator: its camera, surface, tracing functions and image.
    samples_per_edge : int, optional
        Samples per candidate curve, the same for every curve. By default the samples follow each curve's
        visible film length instead (:data:`DENSITY` per pixel, planned anew every pass: the module's
        docstring), within fields sized for twice the film's width plus height per candidate, fewer when
        the candidates are many (at most :data:`MAX_SAMPLES` in all, at least 8 each).
    precise : bool
        Without ``samples_per_edge``: spread :data:`MAX_SAMPLES` over the candidates evenly (at least
        the default each), for a check rather than a fit.
    density : float, optional
        Adaptive samples per pixel of visible curve (default :data:`DENSITY`); given, the fields are
        sized for :data:`MAX_SAMPLES` at least, so that a dense plan is not cut short (for tests). Where the loss's gradient changes from pixel to
        pixel along an edge (it does at every edge the fit has not yet matched), the default count
        leaves a few % of noise on components whose contributions cancel around an outline.
    side_offset : float
        The film offset, in pixels, of the two sides' samples.

    Attributes
    ----------
    n_candidates, samples_per_edge, n_samples : int
        ``n_samples`` is the fields' size (``n_candidates * samples_per_edge``); an adaptive pass draws
        at most that many.
    adaptive : bool
        Whether the samples follow the curves' lengths (the default) or are ``samples_per_edge`` each.
    """

    def __init__(self, integrator, samples_per_edge: Optional[int] = None, side_offset: float = SIDE_OFFSET_PX,
                 precise: bool = False, density: Optional[float] = None):
        dev = self.dev = integrator.dev
        width, height = integrator.width, integrator.height
        outlines, lights = _channels(dev)
        primitives = (
            [(SPHERE, i, 0) for i in range(dev.n_spheres)]
            + [(QUAD, i, e) for i in range(dev.n_quads) for e in range(4)]
            + [(TRIANGLE, i, e) for i, e in mesh_edges(dev)]
        )
        sources = ([-1] if outlines else []) + lights
        rows = [(view, light, kind, index, edge) for view in range(dev.n_views) for light in sources
                for kind, index, edge in primitives]
        self.n_candidates = len(rows)
        self.adaptive = samples_per_edge is None and not precise
        if samples_per_edge is None:
            share = MAX_SAMPLES // max(1, len(rows))
            samples_per_edge = max(8, min(2 * (width + height), share))
            if precise or density is not None:
                samples_per_edge = max(samples_per_edge, share)
        self.density = float(DENSITY if density is None else density)
        self.samples_per_edge = int(samples_per_edge)
        self.n_samples = self.n_candidates * self.samples_per_edge
        self.count = self.n_samples  # the samples of the last pass (fewer when adaptive)
        if self.n_samples == 0:
            return
        self.candidates = ti.Vector.field(5, ti.i32, shape=self.n_candidates)
        self.candidates.from_numpy(np.array(rows, dtype=np.int32))
        n = self.n_samples
        self.weight = ti.field(ti.f32, shape=n)
        self.normal = ti.Vector.field(2, ti.f32, shape=n)
        self.u = ti.field(ti.f32, shape=n)
        self.receiver = ti.field(ti.i32, shape=n)
        self.total = ti.field(ti.f32, shape=(), needs_grad=True)
        self.point = ti.Vector.field(2, ti.f32, shape=n)
        self.owner = ti.field(ti.i32, shape=n)  # the candidate each sample is on
        self.length = ti.field(ti.f32, shape=self.n_candidates)  # the pilot's visible film lengths
        self.cdf = ti.field(ti.f32, shape=self.n_candidates + 1)  # the plan: curve c's share is [cdf[c], cdf[c+1])
        self._build(integrator, width, height, float(side_offset))

    @property
    def active(self) -> bool:
        """Whether anything free can move an outline or a shadow edge."""
        return self.n_samples > 0

    # =============================================================================================
    # The curves
    # =============================================================================================

    def _build(self, integ, width: int, height: int, side: float):
        dev = self.dev
        geo, light_src = dev.source("geometry"), dev.source("light")
        camera, surface = integ.camera, integ.surface
        trace_lights, is_specular = integ.trace_lights, integ.is_specular
        cand, weight, normal, u_of, receiver, total = (self.candidates, self.weight, self.normal, self.u,
                                                       self.receiver, self.total)
        owner, length, cdf = self.owner, self.length, self.cdf
        M, K, N = self.samples_per_edge, self.n_candidates, self.n_samples
        n_lights = max(1, dev.n_lights)
        light_type = ti.field(ti.i32, shape=n_lights)
        light_offset = ti.field(ti.i32, shape=n_lights)
        if dev.n_lights:
            light_type.from_numpy(np.array([POINT if t == "point" else DIRECTIONAL for t, _ in dev.lights], np.int32))
            light_offset.from_numpy(np.array([o for _, o in dev.lights], np.int32))
        sphere_offset, quad_offset = dev.sphere_offset, dev.quad_offset
        moving = dev.moving_meshes
        place = make_place(geo)
        v0s, e1s, e2s = dev.tri_v0, dev.tri_e1, dev.tri_e2
        local0, local1, local2 = dev.tri_local if moving else (None, None, None)
        tri_mesh, pose_offset = dev.tri_mesh, dev.mesh_pose_offset
        tolerance = 1e-3 * dev.scale

        @ti.func
        def vec3(src: ti.template(), k):  # src: a field or a PoolView (device/fixed_reads.py)
            return ti.Vector([src[k], src[k + 1], src[k + 2]])

        @ti.func
        def light_frame(light):
            """``(is_point, v)``: a point light's position, or a directional light's unit travel direction."""
            v = vec3(light_src, light_offset[light])
            is_point = light_type[light] == POINT
            if not is_point:
                v = v.normalized()
            return is_point, v

        @ti.func
        def basis(w):
            """Two unit vectors perpendicular to the unit ``w`` and to each other (Duff et al. 2017)."""
            sign = ti.select(w[2] >= 0.0, 1.0, -1.0)
            a = -1.0 / (sign + w[2])
            b = w[0] * w[1] * a
            e1 = ti.Vector([1.0 + sign * w[0] * w[0] * a, sign * b, -sign * w[0]])
            e2 = ti.Vector([b, sign + w[1] * w[1] * a, -w[1]])
            return e1, e2

        @ti.func
        def outline(center, r, is_point, eye, u):
            """Point ``u`` of a sphere's silhouette seen from the point ``eye`` (or, orthographically, along
            the travel direction ``eye``), and whether there is one (an eye inside the sphere sees none)."""
            w = ti.select(is_point, eye - center, -eye)
            d2 = w.dot(w)
            ok = (not is_point) or d2 > r * r * (1.0 + 1e-6)
            wn = w / ti.sqrt(d2)
            shift = ti.select(is_point, r * r / ti.sqrt(ti.max(d2, 1e-30)), 0.0)
            rho = ti.select(is_point, r * ti.sqrt(ti.max(1.0 - r * r / ti.max(d2, 1e-30), 0.0)), r)
            e1, e2 = basis(wn)
            phi = 2.0 * ti.math.pi * u
            return center + shift * wn + rho * (ti.cos(phi) * e1 + ti.sin(phi) * e2), ok

        @ti.func
        def corner(i, j):
            """Corner ``j`` (0, 1, 2) of triangle ``i``: placed from the pool when its mesh's pose is free."""
            p = ti.Vector([0.0, 0.0, 0.0])
            if ti.static(moving):
                local = ti.select(j == 0, local0[i], ti.select(j == 1, local1[i], local2[i]))
                p = place(pose_offset[tri_mesh[i]], local)
            else:
                p = v0s[i] + ti.select(j == 1, e1s[i], 0.0) + ti.select(j == 2, e2s[i], 0.0)
            return p

        @ti.func
        def segment(kind, index, edge):
            """The two ends of edge ``edge`` of a quad (corners in order o, o+e1, o+e1+e2, o+e2) or triangle."""
            a = ti.Vector([0.0, 0.0, 0.0])
            b = a
            if kind == QUAD:
                k = quad_offset[index]
                o, e1, e2 = vec3(geo, k), vec3(geo, k + 3), vec3(geo, k + 6)
                c0, c1, c2, c3 = o, o + e1, o + e1 + e2, o + e2
                a = ti.select(edge == 0, c0, ti.select(edge == 1, c1, ti.select(edge == 2, c2, c3)))
                b = ti.select(edge == 0, c1, ti.select(edge == 1, c2, ti.select(edge == 2, c3, c0)))
            else:
                a, b = corner(index, edge), corner(index, (edge + 1) % 3)
            return a, b

        @ti.func
        def curve_point(c, u):
            """The world point ``u`` of candidate ``c``'s curve (on the outlining or shadowing object), and
            whether it exists."""
            view, light, kind, index, edge = cand[c][0], cand[c][1], cand[c][2], cand[c][3], cand[c][4]
            p = ti.Vector([0.0, 0.0, 0.0])
            ok = True
            if kind == SPHERE:
                k = sphere_offset[index]
                is_point, eye = True, camera.position(view)
                if light >= 0:
                    is_point, eye = light_frame(light)
                p, ok = outline(vec3(geo, k), geo[k + 3], is_point, eye, u)
            else:
                a, b = segment(kind, index, edge)
                p = a + u * (b - a)
            return p, ok

        @ti.func
        def shadow_ray(light, p):
            """The direction from the light through ``p``, onward."""
            is_point, v = light_frame(light)
            return ti.select(is_point, (p - v).normalized(), v)

        @ti.func
        def film_point(c, u, hit):
            """Where candidate ``c``'s curve point ``u`` shows in its view: the film point (pixels), its
            depth, the world point seen there (the receiver's point ``hit`` for a shadow edge), and
            whether the curve point exists."""
            p, ok = curve_point(c, u)
            view, light = cand[c][0], cand[c][1]
            q = p
            if light >= 0:
                q, _, _, _uv = surface(p, shadow_ray(light, p), hit)
            x, depth = camera.project(view, q)
            return x, depth, q, ok

        # ----------------------------------------------------------------------------------------------
        # Sampling: weights, normals and receivers (never differentiated)
        # ----------------------------------------------------------------------------------------------
        image = integ.image
        shade = integ.radiance_looped()  # not differentiated: a run-time loop over the lights
        n_lights = dev.n_lights

        @ti.func
        def own_outline(c, code):
            """Whether the side ray of a sphere's outline candidate ``c`` hit that sphere (from outside)."""
            return (cand[c][1] < 0 and cand[c][2] == SPHERE and kind_of(code) == SPHERE and far_of(code) == 0
                    and index_of(code) == cand[c][3])

        @ti.func
        def sphere_point(c, p):
            """The outline point ``p`` itself and the sphere's outward normal there: the radiance the sphere's
            side has at its outline. Near its outline a sphere's normal, seen through a fixed film point,
            turns as the square root of the distance to it, so the side ray's own hit, a hundredth of a
            pixel in, would be off by a few degrees (several % of a gradient); flat faces have no such
            term."""
            k = sphere_offset[cand[c][3]]
            return p, (p - vec3(geo, k)) / geo[k + 3]

        @ti.func
        def place_sample(s, mode, count, jitter):
            """``(c, u, scale)``: sample ``s``'s candidate, its point on the curve and ``1 /`` its expected
            number of samples on that curve (``M``, the pilot's count, or ``count * p_c``)."""
            c, u, scale = 0, 0.0, 1.0 / M
            if mode == PLANNED:
                t = (ti.cast(s, ti.f32) + jitter) / count  # systematic: one sample in each count-th of the line
                lo, hi = 0, K  # the c with cdf[c] <= t < cdf[c + 1], by bisection
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if cdf[mid] <= t:
                        lo = mid
                    else:
                        hi = mid
                c = lo
                share = cdf[c + 1] - cdf[c]
                u = ti.min(ti.max((t - cdf[c]) / share, 0.0), 1.0 - 1e-7)
                scale = 1.0 / (count * share)
            else:
                per = ti.select(mode == PILOT, PILOT_SAMPLES, M)
                c = s // per
                u = (ti.cast(s - c * per, ti.f32) + jitter) / per  # stratified: one sample in each per-th
                scale = 1.0 / per
            return c, u, scale

        @ti.kernel
        def sample(seed: ti.u32, mode: ti.i32, count: ti.i32):
            for s in range(count):
                jitter = to_unit_float(hash_u32(hash_u32(seed ^ ti.u32(0x2545F491)) ^ ti.cast(s, ti.u32)))
                c, u, scale = place_sample(s, mode, count, jitter)
                view, light = cand[c][0], cand[c][1]
                hit, speed = MISS, 0.0
                x, nrm = ti.math.vec2(0.0, 0.0), ti.math.vec2(0.0, 0.0)
                jump = ti.Vector([0.0, 0.0, 0.0])
                p, alive = curve_point(c, u)
                q = p
                # Four rays through one copy of the tracing code (it is long: the BVH walk, a shadow ray per
                # light), so the kernel compiles in reasonable time:
                #   0: from the curve point away from the light, to the receiver (shadow edges only);
                #   1: the camera's ray to the film point, which must see the receiver's point there;
                #   2, 3: the film rays on the two sides of the curve, L- at x - side n and L+ at x + side n.
                # Rays 0 and 1 need no light's visibility; the two sides of light l's shadow edge only
                # light l's, whose term alone jumps there (the others' differ by O(side)): so a sample
                # traces 2 shadow rays (1 per side), not 4 per light: the pass is linear in the lights.
                for k in range(ti.select(mode == PILOT, 2, 4)):  # the pilot stops at the film point
                    if alive and (k >= 2 or light >= 0):
                        lo, hi = 0, 0
                        if k >= 2:
                            lo, hi = ti.select(light >= 0, light, 0), ti.select(light >= 0, light + 1, n_lights)
                        o, d = p, p
                        if k == 0:
                            o, d = p, shadow_ray(light, p)
                        else:
                            offset = ti.select(k == 2, -side, ti.select(k == 3, side, 0.0)) * nrm
                            o, d = camera.film_ray(view, (x[0] + offset[0]) / width, (x[1] + offset[1]) / height)
                        code, mask, pk, nk, ak, uvk = trace_lights(o, d, lo, hi)
                        if k == 0:
                            hit = code
                            alive = code != MISS
                        elif k == 1:
                            alive = code == hit and (pk - q).norm() < tolerance
                        elif code != MISS:
                            if is_specular(ak):  # a mirror on one side: its radiance is not traced here
                                alive = False
                            if own_outline(c, code):
                                pk, nk = sphere_point(c, p)
                            jump += ti.select(k == 2, 1.0, -1.0) * shade(pk, nk, -d, ak, uvk, mask)
                    if k == 0 and alive:
                        # The film point and its neighbours at u -+ DU, for the tangent and the normal.
                        xa, xb = x, x
                        depth = 1.0
                        for i in range(3):
                            xi, di, qi, _ = film_point(c, u + (i - 1) * DU, hit)
                            depth = ti.min(depth, di)
                            if i == 0:
                                xa = xi
                            elif i == 1:
                                x, q = xi, qi
                            else:
                                xb = xi
                        tangent = (xb - xa) / (2.0 * DU)
                        speed = tangent.norm()
                        inside = 0.0 <= x[0] < width and 0.0 <= x[1] < height
                        alive = depth > 0.0 and speed > 1e-12 and inside
                        if alive:
                            nrm = ti.math.vec2(tangent[1], -tangent[0]) / speed
                w = 0.0
                if mode == PILOT:
                    if alive:
                        length[c] += speed * scale
                elif alive:
                    g = image.grad[view, ti.cast(ti.floor(x[1]), ti.i32), ti.cast(ti.floor(x[0]), ti.i32)]
                    w = g.dot(jump) * speed * scale
                weight[s], normal[s], u_of[s], receiver[s], owner[s] = w, nrm, u, hit, c

        # ----------------------------------------------------------------------------------------------
        # The differentiated sum: w (x(u; θ) · n), with w and n held
        # ----------------------------------------------------------------------------------------------
        @ti.kernel
        def edges(count: ti.i32):
            for s in range(count):
                w = weight[s]
                if w != 0.0:
                    x, _, _, _ = film_point(owner[s], u_of[s], receiver[s])
                    total[None] += w * x.dot(normal[s])

        point = self.point

        @ti.kernel
        def points(count: ti.i32):
            for s in range(count):
                x = ti.math.vec2(0.0, 0.0)
                if weight[s] != 0.0:
                    x, _, _, _ = film_point(owner[s], u_of[s], receiver[s])
                point[s] = x

        self._sample, self._edges, self._points = sample, edges, points

    # =============================================================================================
    # The pass
    # =============================================================================================

    def backward(self, seed: int) -> None:
        """Add the boundary term to ``pool.grad``; ``image.grad`` must hold ``d loss / d image`` and the
        scene's meshes must be placed (any :meth:`Integrator.forward` does it)."""
        if not self.active:
            return
        self.sample(seed)
        self.total.grad[None] = 1.0
        self._edges.grad(self.count)

    def sample(self, seed: int) -> None:
        """Draw the edge samples of ``seed`` and their weights (what :meth:`backward` does first): by the
        plan of a pilot with a seed derived from ``seed`` when adaptive, else ``samples_per_edge`` each."""
        if not self.active:
            return
        seed = int(seed) & 0xFFFFFFFF
        if not self.adaptive:
            self.count = self.n_samples
            self._sample(seed, UNIFORM, self.count)
            return
        self.length.fill(0.0)
        self._sample(seed ^ 0x68E31DA4, PILOT, self.n_candidates * PILOT_SAMPLES)
        cdf, self.count = plan(self.length.to_numpy(), self.n_samples, self.density)
        self.cdf.from_numpy(cdf)
        self._sample(seed, PLANNED, self.count)

    def film_speeds(self, offsets, steps) -> np.ndarray:
        """How fast the edges that matter move on the film, per parameter component.

        For each pool offset in ``offsets``, the 99th percentile over the samples of the last
        :meth:`sample` that carry weight (whose pixel's loss gradient and jump are not zero) of
        ``|dx/dθ|``, in pixels per unit of the parameter, by a central difference of the film points
        with the matching step in ``steps``; 0 where no such sample moves. Leaves the pool as it was.
        """
        speeds = np.zeros(len(offsets))
        if not self.active:
            return speeds
        live = self.weight.to_numpy()[:self.count] != 0.0
        if not live.any():
            return speeds
        dev = self.dev
        base = dev.pool_values()
        try:
            for i, (k, h) in enumerate(zip(offsets, steps)):
                ends = []
                for sign in (1.0, -1.0):
                    pool = base.copy()
                    pool[k] += sign * h
                    dev.set_pool(pool)
                    self._points(self.count)
                    ends.append(self.point.to_numpy()[:self.count][live].astype(np.float64))
                step = float(np.float32(base[k] + h)) - float(np.float32(base[k] - h))
                moved = np.linalg.norm(ends[0] - ends[1], axis=1) / step if step > 0 else np.zeros(1)
                speeds[i] = float(np.percentile(moved, 99))
        finally:
            dev.set_pool(base)
        return speeds


def plan(lengths: np.ndarray, most: int, density: float = DENSITY) -> tuple[np.ndarray, int]:
    """The adaptive plan from the pilot's visible film lengths (pixels) of the curves: ``(cdf, count)``.

    ``cdf`` (``len(lengths) + 1`` float32, from 0 to 1) gives curve ``c`` the share
    ``cdf[c + 1] - cdf[c]``, proportional to its length plus :data:`FLOOR_SHARE` of the mean length (all
    equal when the pilot saw nothing); ``count`` is ``density`` samples per pixel of their total
    length, at least one per curve, at most ``most``. Shares are exactly those of the float32 ``cdf``
    (what the kernel samples by and divides by), and each is positive: no curve is left out.
    """
    lengths = np.maximum(np.nan_to_num(np.asarray(lengths, np.float64), nan=0.0, posinf=0.0), 0.0)
    k = len(lengths)
    total = float(lengths.sum())
    share = lengths + FLOOR_SHARE * total / k if total > 0 else np.ones(k)
    cdf = np.concatenate([[0.0], np.cumsum(share)]) / share.sum()
    cdf = cdf.astype(np.float32)
    cdf[-1] = 1.0
    # float32 rounding merges neighbouring bounds only when a share is below ~6e-8 (tens of millions of
    # curves): give such a curve the smallest float32 share instead of none
    for c in np.flatnonzero(np.diff(cdf) <= 0.0):
        cdf[c + 1] = np.nextafter(cdf[c], np.float32(2.0))
    cdf = np.maximum.accumulate(cdf)
    cdf[-1] = 1.0
    count = int(min(most, max(k, math.ceil(density * total * (1.0 + FLOOR_SHARE)))))
    return cdf, count


def make_boundary(integrator, **options) -> Optional["Boundary"]:
    """The :class:`Boundary` of ``integrator``'s scene, or None when nothing free moves an edge."""
    boundary = Boundary(integrator, **options)
    return boundary if boundary.active else None
