"""Small :class:`raydiff.scene.model.Scene` builders shared by the tests, and numpy references to check them with.

Every builder returns a plain description (no Taichi): build it on the device only after the test's
backend fixture has run (``cpu`` or ``vulkan``), since switching backends resets Taichi.

Conventions used throughout (the same as raydiff's and Mitsuba 3's):

* the camera is a pinhole; ``fov`` is the horizontal field of view; pixel (0, 0) is the top-left one;
* a two-sided Lambertian surface under a point light has radiance ``albedo / pi * I * cos / r^2``.

The numpy helpers (:func:`camera_rays`, :func:`floor_radiance`, :func:`trace_sphere_floor`) are
independent re-implementations used as references by tests/test_integrator.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np

from raydiff.device.meshes import rotation_matrix
from raydiff.scene.obj import read_obj
from raydiff.scene.model import (
    Camera,
    Conductor,
    Film,
    FreeParameter,
    Mesh,
    PointLight,
    Quad,
    Rotation,
    Scene,
    Sphere,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUBE_OBJ = os.path.join(ROOT, "assets", "cube.obj")


def with_optimize(scene: Scene, *paths: str, **options) -> Scene:
    """A copy of ``scene`` whose ``optimize`` section frees ``paths`` (same options for each)."""
    return replace(scene, optimize=tuple(FreeParameter(p, **options) for p in paths))


# --------------------------------------------------------------------------------------------------------
# A numpy pinhole camera (the reference for raydiff.camera)
# --------------------------------------------------------------------------------------------------------


def camera_rays(camera: Camera, width: int, height: int, fx: np.ndarray, fy: np.ndarray):
    """Origin (3,) and unit directions (..., 3) for film coordinates ``fx``, ``fy`` in [0, 1].

    ``fx`` grows to the right and ``fy`` downwards: (0, 0) is the top-left corner of the picture.
    """
    pos = np.asarray(camera.position, dtype=np.float64)
    forward = np.asarray(camera.look_at, dtype=np.float64) - pos
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(camera.up, dtype=np.float64))
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    tan_x = math.tan(math.radians(camera.fov) / 2.0)
    tan_y = tan_x * height / width
    fx, fy = np.asarray(fx, dtype=np.float64), np.asarray(fy, dtype=np.float64)
    d = forward + ((2.0 * fx - 1.0) * tan_x)[..., None] * right + ((1.0 - 2.0 * fy) * tan_y)[..., None] * true_up
    return pos, d / np.linalg.norm(d, axis=-1, keepdims=True)


def subpixel_grid(width: int, height: int, n: int):
    """Film coordinates of an ``n`` x ``n`` grid of points inside every pixel: arrays (H, W, n*n)."""
    offsets = (np.arange(n) + 0.5) / n
    ox, oy = np.meshgrid(offsets, offsets)
    xs = (np.arange(width)[None, :, None] + ox.reshape(1, 1, -1)) / width
    ys = (np.arange(height)[:, None, None] + oy.reshape(1, 1, -1)) / height
    return np.broadcast_to(xs, (height, width, n * n)), np.broadcast_to(ys, (height, width, n * n))


def pixel_corners(width: int, height: int):
    """Film coordinates of every pixel's four corners: arrays (H, W, 4)."""
    cx = np.array([0.0, 1.0, 0.0, 1.0])
    cy = np.array([0.0, 0.0, 1.0, 1.0])
    xs = (np.arange(width)[None, :, None] + cx) / width
    ys = (np.arange(height)[:, None, None] + cy) / height
    return np.broadcast_to(xs, (height, width, 4)), np.broadcast_to(ys, (height, width, 4))


def lambert(p, n, albedo, light: PointLight) -> np.ndarray:
    """``albedo / pi * I * max(0, n.l) / r^2`` at points ``p`` (..., 3) with unit normals ``n``."""
    to_light = np.asarray(light.position, dtype=np.float64) - p
    r2 = np.sum(to_light * to_light, axis=-1, keepdims=True)
    cos = np.maximum(np.sum(n * to_light, axis=-1, keepdims=True) / np.sqrt(r2), 0.0)
    return np.asarray(albedo) / math.pi * np.asarray(light.intensity) * cos / r2


# --------------------------------------------------------------------------------------------------------
# A floor seen straight from above (closed form)
# --------------------------------------------------------------------------------------------------------


def floor_scene(width: int = 32, height: int = 24, spp: int = 64, camera_y: float = 3.0) -> Scene:
    """A 10 m floor quad at y = 0 under one point light, seen by a camera ``camera_y`` straight above
    (or below, if negative). The light's position is free, so tests may move it through the pool.

    The quad is wound so that its geometric normal points *down* (edge1 x edge2 = x x z = -y): being
    two-sided, it must still be lit from above. Seen from above, image up is -z and image right is +x; the
    light is off axis towards the top-left so that the picture has no symmetry.
    """
    floor = Quad("floor", origin=(-5.0, 0.0, -5.0), edge1=(10.0, 0.0, 0.0), edge2=(0.0, 0.0, 10.0), albedo=(0.8, 0.5, 0.2))
    scene = Scene(
        camera=Camera(position=(0.0, camera_y, 0.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 0.0, -1.0), fov=40.0),
        film=Film(width, height, spp),
        objects=(floor,),
        lights=(PointLight("key", (-0.6, 1.5, -0.4), (10.0, 6.0, 3.0)),),
    )
    return with_optimize(scene, "lights.key.position")


def floor_radiance(scene: Scene, subsamples: int = 16) -> np.ndarray:
    """The exact pixel values of :func:`floor_scene` (or a variant of it with the camera moved along y):
    the closed form averaged over an ``subsamples`` x ``subsamples`` grid inside each pixel."""
    (floor,) = scene.objects
    (light,) = scene.lights
    w, h = scene.film.width, scene.film.height
    fx, fy = subpixel_grid(w, h, subsamples)
    o, d = camera_rays(scene.camera, w, h, fx, fy)
    t = -o[1] / d[..., 1]
    p = o + t[..., None] * d
    n = np.array([0.0, math.copysign(1.0, o[1]), 0.0])  # two-sided: facing the camera
    return lambert(p, n, floor.albedo, light).mean(axis=2)


# --------------------------------------------------------------------------------------------------------
# A sphere casting a hard shadow on a floor
# --------------------------------------------------------------------------------------------------------


def shadow_scene(width: int = 48, height: int = 36, spp: int = 4) -> Scene:
    """A sphere above a floor, seen from straight above; the light is to its left (-x), so the shadow
    falls to the sphere's right. Sphere and shadow both lie in the top-left quarter of the picture
    (image up is -z, image right is +x)."""
    return Scene(
        camera=Camera(position=(0.0, 3.0, 0.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 0.0, -1.0), fov=50.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.7, 0.7, 0.7)),
            Sphere("ball", center=(-0.85, 0.35, -0.5), radius=0.18, albedo=(0.9, 0.3, 0.2)),
        ),
        lights=(PointLight("key", (-1.5, 1.6, -0.5), (6.0, 6.0, 6.0)),),
    )


def _ray_sphere(o, d, center, radius):
    """Nearest positive t of rays (o, d) against a sphere; inf where they miss."""
    oc = o - center
    b = np.sum(oc * d, axis=-1)
    disc = b * b - (np.sum(oc * oc, axis=-1) - radius * radius)
    s = np.sqrt(np.maximum(disc, 0.0))
    t = np.where(-b - s > 1e-9, -b - s, -b + s)
    return np.where((disc > 0) & (t > 1e-9), t, np.inf)


def trace_sphere_floor(scene: Scene, fx, fy):
    """For the film points ``fx``, ``fy`` of :func:`shadow_scene`: (sees_sphere, floor_in_shadow)."""
    _, ball = scene.objects
    (light,) = scene.lights
    o, d = camera_rays(scene.camera, scene.film.width, scene.film.height, fx, fy)
    center = np.asarray(ball.center)
    sees_sphere = np.isfinite(_ray_sphere(o, d, center, ball.radius))
    p = o + (-o[1] / d[..., 1])[..., None] * d
    to_light = np.asarray(light.position) - p
    dist = np.linalg.norm(to_light, axis=-1)
    in_shadow = _ray_sphere(p, to_light / dist[..., None], center, ball.radius) < dist
    return sees_sphere, in_shadow & ~sees_sphere


def open_floor_pixels(scene: Scene, blockers) -> np.ndarray:
    """Pixels whose centre sees the floor (the y = 0 quad named ``floor``) and none of the ``blockers``,
    given as (center, radius) bounding spheres: (H, W) bool."""
    floor = scene.object("floor")
    w, h = scene.film.width, scene.film.height
    o, d = camera_rays(scene.camera, w, h, *subpixel_grid(w, h, 1))
    t = -o[1] / d[..., 1]
    p = o + t[..., None] * d
    lo = np.minimum(np.asarray(floor.origin), np.add(floor.origin, np.add(floor.edge1, floor.edge2)))
    hi = np.maximum(np.asarray(floor.origin), np.add(floor.origin, np.add(floor.edge1, floor.edge2)))
    seen = (t > 0) & np.all((p >= lo - 1e-9) & (p <= hi + 1e-9), axis=-1)
    for center, radius in blockers:
        seen &= ~np.isfinite(_ray_sphere(o, d, np.asarray(center, dtype=np.float64), radius))
    return seen[..., 0]


# --------------------------------------------------------------------------------------------------------
# The unit cube as a mesh and as six quads
# --------------------------------------------------------------------------------------------------------


def cube_mesh(name: str, scale, rotate: Rotation, translate, albedo=(0.6, 0.5, 0.4)) -> Mesh:
    """assets/cube.obj placed by scale, rotate and translate."""
    vertices, faces = read_obj(CUBE_OBJ)
    return Mesh(name, CUBE_OBJ, "assets/cube.obj", vertices, faces, tuple(scale), rotate, tuple(translate), albedo)


def cube_quads(prefix: str, scale, rotate: Rotation, translate, albedo=(0.6, 0.5, 0.4)) -> tuple[Quad, ...]:
    """The same cube as :func:`cube_mesh`, as six quads (outward normals, though it does not matter)."""
    m = rotation_matrix(rotate) * np.asarray(scale, dtype=np.float64)
    t = np.asarray(translate, dtype=np.float64)
    quads = []
    for axis in range(3):
        a, b = (axis + 1) % 3, (axis + 2) % 3
        for sign in (-1.0, 1.0):
            corner = np.full(3, -0.5)
            corner[axis] = 0.5 * sign
            e1, e2 = np.zeros(3), np.zeros(3)
            e1[a], e2[b] = 1.0, 1.0
            if sign < 0:
                e1, e2 = e2, e1  # keep edge1 x edge2 pointing outwards
            quads.append(
                Quad(
                    f"{prefix}_{'xyz'[axis]}{'-+'[sign > 0]}",
                    origin=tuple(m @ corner + t),
                    edge1=tuple(m @ e1),
                    edge2=tuple(m @ e2),
                    albedo=albedo,
                )
            )
    return tuple(quads)


CUBE_SCALE = (1.0, 0.7, 0.9)
CUBE_ROTATION = Rotation(axis=(1.0, 2.0, 0.5), angle=35.0)


def cube_scene(as_quads: bool, width: int = 40, height: int = 30, spp: int = 4) -> Scene:
    """The scaled, rotated cube alone under one light, as a mesh or as six quads (same camera)."""
    place = (CUBE_SCALE, CUBE_ROTATION, (0.0, 0.0, 0.0))
    return Scene(
        camera=Camera(position=(1.0, 1.5, 3.5), look_at=(0.0, 0.0, 0.0), fov=35.0),
        film=Film(width, height, spp),
        objects=cube_quads("cube", *place) if as_quads else (cube_mesh("cube", *place),),
        lights=(PointLight("key", (-1.0, 2.5, 2.0), (8.0, 7.0, 6.0)),),
    )


# --------------------------------------------------------------------------------------------------------
# A scene without shadows on anything visible (for gradients)
# --------------------------------------------------------------------------------------------------------

FLOATING_PATHS = (
    "lights.key.position",
    "lights.key.intensity",
    "lights.fill.position",
    "lights.fill.intensity",
    "objects.ball.albedo",
    "objects.panel.albedo",
    "objects.box.albedo",
)


def floating_scene(width: int = 48, height: int = 36, spp: int = 4) -> Scene:
    """A sphere, a tilted quad and a rotated cube mesh floating side by side in front of nothing, lit by
    two lights from the camera's side: every shadow falls into the void behind them, so the image is
    smooth in every light and albedo parameter. Every free-parameter kind is freed."""
    scene = Scene(
        camera=Camera(position=(0.3, 0.8, 5.0), look_at=(0.0, 0.1, 0.0), fov=45.0),
        film=Film(width, height, spp),
        objects=(
            Sphere("ball", center=(-1.4, 0.3, 0.0), radius=0.5, albedo=(0.7, 0.4, 0.2)),
            Quad("panel", origin=(0.9, -0.5, 0.3), edge1=(1.0, 0.0, -0.5), edge2=(0.1, 1.2, 0.0), albedo=(0.3, 0.6, 0.5)),
            cube_mesh("box", (0.8, 0.8, 0.8), Rotation((1.0, 1.0, 0.0), 30.0), (-0.1, 0.2, 0.0), albedo=(0.5, 0.5, 0.8)),
        ),
        lights=(
            PointLight("key", (-1.5, 2.5, 3.5), (12.0, 10.0, 8.0)),
            PointLight("fill", (2.2, 0.4, 4.0), (3.0, 4.0, 6.0)),
        ),
    )
    return with_optimize(scene, *FLOATING_PATHS)


def four_light_floating_scene() -> Scene:
    """:func:`floating_scene` under four point lights from the camera's side (its two and two more): the
    shading gradient is unrolled over the lights, the forward pass loops over them at run time. The
    lights' positions and intensities are free."""
    scene = floating_scene()
    lights = scene.lights + (PointLight("rim", (0.5, 2.8, 4.5), (4.0, 4.0, 4.0)),
                             PointLight("low", (-0.6, -0.4, 4.2), (2.0, 3.0, 2.5)))
    return with_optimize(replace(scene, lights=lights),
                         *(f"lights.{light.name}.{kind}" for light in lights for kind in ("position", "intensity")))


def lone_floor_scene(width: int = 40, height: int = 30, spp: int = 4) -> Scene:
    """One tilted quad and one light, nothing to cast a shadow; light position and intensity free."""
    scene = Scene(
        camera=Camera(position=(0.0, 2.0, 3.0), look_at=(0.0, 0.0, 0.0), fov=50.0),
        film=Film(width, height, spp),
        objects=(Quad("floor", origin=(-2.0, 0.0, -2.0), edge1=(0.0, 0.3, 4.0), edge2=(4.0, 0.0, 0.0), albedo=(0.6, 0.5, 0.4)),),
        lights=(PointLight("key", (0.7, 1.2, 0.4), (4.0, 3.0, 2.0)),),
    )
    return with_optimize(scene, "lights.key.position", "lights.key.intensity", "objects.floor.albedo")


# --------------------------------------------------------------------------------------------------------
# Parity and fitting scenes
# --------------------------------------------------------------------------------------------------------


def spheres_scene(width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """Three spheres on a floor quad, two lights, a visible hard shadow (the Mitsuba parity scene)."""
    return Scene(
        camera=Camera(position=(0.0, 2.2, 5.0), look_at=(0.0, 0.4, 0.0), fov=45.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.55)),
            Sphere("red", center=(-1.2, 0.5, 0.0), radius=0.5, albedo=(0.8, 0.2, 0.15)),
            Sphere("green", center=(0.3, 0.35, 0.6), radius=0.35, albedo=(0.2, 0.7, 0.25)),
            Sphere("blue", center=(1.3, 0.7, -0.6), radius=0.7, albedo=(0.2, 0.3, 0.8)),
        ),
        lights=(
            PointLight("key", (-2.0, 4.0, 2.5), (25.0, 23.0, 20.0)),
            PointLight("fill", (3.0, 1.5, 3.0), (4.0, 5.0, 7.0)),
        ),
    )


def cube_parity_scene(width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """The cube mesh, scaled and rotated, standing on a floor quad and casting a shadow on it."""
    return Scene(
        camera=Camera(position=(1.5, 2.5, 4.5), look_at=(0.0, 0.4, 0.0), fov=40.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.6)),
            cube_mesh("box", (1.2, 0.8, 1.0), Rotation((0.0, 1.0, 0.0), 30.0), (0.0, 0.4, 0.0), albedo=(0.8, 0.5, 0.3)),
        ),
        lights=(PointLight("key", (-2.0, 3.5, 1.5), (20.0, 20.0, 20.0)),),
    )


FIT_TRUE_LIGHT = (0.8, 2.2, 1.2)
FIT_TRUE_INTENSITY = (9.0, 8.0, 7.0)
FIT_TRUE_BALL_ALBEDO = (0.75, 0.35, 0.2)


def fit_scene(width: int = 64, height: int = 48, spp: int = 4) -> Scene:
    """A sphere on a floor under one light, at the true values (no ``optimize`` section)."""
    return Scene(
        camera=Camera(position=(0.0, 2.5, 4.0), look_at=(0.0, 0.3, 0.0), fov=45.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-3.0, 0.0, -3.0), edge1=(0.0, 0.0, 6.0), edge2=(6.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.6)),
            Sphere("ball", center=(0.0, 0.5, 0.0), radius=0.5, albedo=FIT_TRUE_BALL_ALBEDO),
        ),
        lights=(PointLight("key", FIT_TRUE_LIGHT, FIT_TRUE_INTENSITY),),
    )


# --------------------------------------------------------------------------------------------------------
# Parity scenes for directional lights and several cameras (added with DirectionalLight and
# Scene.cameras; the builders above are unchanged)
# --------------------------------------------------------------------------------------------------------

from raydiff.scene.model import DirectionalLight  # noqa: E402 (kept with the builders that use it)


def unit(v) -> tuple[float, float, float]:
    """``v`` scaled to unit length, as a tuple (a :class:`DirectionalLight` keeps its direction unit length)."""
    a = np.asarray(v, dtype=np.float64)
    return tuple(float(x) for x in a / np.linalg.norm(a))


def directional_parity_scene(width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """A sphere and a rotated cube mesh on a floor quad under one directional light ("sun").

    The sun travels along (1, -1, 0.3) (45 degrees up from the floor, coming from the left and slightly
    from behind the objects), so both cast hard shadows towards the right and the camera, onto floor that
    the camera sees.
    """
    return Scene(
        camera=Camera(position=(0.0, 2.2, 5.0), look_at=(0.0, 0.4, 0.0), fov=45.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.55)),
            Sphere("ball", center=(-1.1, 0.55, 0.0), radius=0.55, albedo=(0.8, 0.3, 0.2)),
            cube_mesh("box", (0.8, 0.8, 0.8), Rotation((0.0, 1.0, 0.0), 25.0), (0.9, 0.4, -0.6), albedo=(0.3, 0.5, 0.8)),
        ),
        lights=(DirectionalLight("sun", unit((1.0, -1.0, 0.3)), (3.0, 2.8, 2.5)),),
    )


def two_view_scene(width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """Two spheres on a floor seen by two cameras ("front" and "side"), under a point light and a sun.

    The point light ("key", listed first) casts the hard shadows; the directional "sun" comes from above
    and behind the side camera. The views share the film.
    """
    return Scene(
        camera=None,
        cameras=(
            Camera(position=(0.0, 2.2, 5.0), look_at=(0.0, 0.4, 0.0), fov=45.0, name="front"),
            Camera(position=(4.5, 3.0, 1.5), look_at=(0.0, 0.3, 0.0), fov=50.0, name="side", weight=0.5),
        ),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.55)),
            Sphere("red", center=(-0.8, 0.5, 0.2), radius=0.5, albedo=(0.8, 0.2, 0.15)),
            Sphere("blue", center=(0.9, 0.6, -0.5), radius=0.6, albedo=(0.2, 0.3, 0.8)),
        ),
        lights=(
            PointLight("key", (-2.0, 4.0, 2.5), (25.0, 23.0, 20.0)),
            DirectionalLight("sun", unit((-0.4, -1.0, -0.5)), (0.8, 0.9, 1.1)),
        ),
    )


# --- view-filling scenes for the gradient tests (shading only) ---
#
# Every pixel of every view sees one and the same primitive, lit by every light, and stays so when a free
# parameter moves a little: no silhouette, no shadow edge, no terminator in the film. The integrator does
# not differentiate visibility, so in these scenes its gradient is the whole derivative of the image, and
# tests/test_gradients.py can compare it with finite differences component by component. Each builder takes
# the film's ``width``, ``height`` and ``spp`` (small by default: the gradient tests render dozens of times)
# and returns the scene with its ``optimize`` section freeing the paths listed above it.

WALL_NORMAL = unit((0.3, 0.4, 1.0))  # the wall's plane is generic: every component of its gradients counts


def _floats(v) -> tuple[float, ...]:
    """``v`` as a tuple of plain floats (the scene model's vectors)."""
    return tuple(float(x) for x in np.asarray(v, dtype=np.float64).reshape(-1))


def _plane_quad(name: str, center, normal, size: float, albedo) -> Quad:
    """A square quad in the plane through ``center`` normal to ``normal``.

    Parameters
    ----------
    name : str
    center : array_like, shape (3,)
        The quad's centre.
    normal : array_like, shape (3,)
        Its normal (``edge1 x edge2`` points along it); not parallel to y.
    size : float
        The length of both edges.
    albedo : tuple of float

    Returns
    -------
    Quad
    """
    n = np.asarray(normal, dtype=np.float64)
    e1 = np.cross((0.0, 1.0, 0.0), n)
    e1 *= size / np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    e2 *= size / np.linalg.norm(e2)
    origin = np.asarray(center, dtype=np.float64) - 0.5 * (e1 + e2)
    return Quad(name, _floats(origin), _floats(e1), _floats(e2), albedo)


def _wall_lights() -> tuple:
    """A point light in front of the wall (its fall-off shades the wall unevenly) and an oblique sun."""
    return (
        PointLight("key", (-0.6, 0.9, 1.2), (4.0, 3.5, 3.0)),
        DirectionalLight("sun", unit((0.5, -0.3, -0.6)), (0.6, 0.7, 0.8)),
    )


WALL_PATHS = (
    "camera.position",
    "camera.look_at",
    "camera.fov",
    "objects.wall.origin",
    "objects.wall.edge1",
    "objects.wall.edge2",
)


def view_filling_wall_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """A 16 m wall quad, tilted so that its normal has three sizeable components, seen from 2.5 m: the
    film shows the middle of it only. A point light in front of it and a sun shade it. The camera's
    position, target and field of view and the wall's corner and edges are free."""
    scene = Scene(
        camera=Camera(position=(0.9, 0.7, 2.3), look_at=(-0.2, -0.3, 0.0), fov=40.0),
        film=Film(width, height, spp),
        objects=(_plane_quad("wall", (0.0, 0.0, 0.0), WALL_NORMAL, 16.0, (0.7, 0.6, 0.5)),),
        lights=_wall_lights(),
    )
    return with_optimize(scene, *WALL_PATHS)


TWO_VIEW_WALL_PATHS = ("cameras.far.position", "objects.wall.origin")


def view_filling_two_view_wall_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """The wall of :func:`view_filling_wall_scene` seen by two cameras with different weights ("near",
    weight 1, and "far", weight 0.4), each seeing nothing but the wall; the far camera's position and the
    wall's corner (shared by both views) are free."""
    scene = Scene(
        camera=None,
        cameras=(
            Camera(position=(0.9, 0.7, 2.3), look_at=(-0.2, -0.3, 0.0), fov=40.0, name="near"),
            Camera(position=(-1.2, 0.4, 3.4), look_at=(0.1, 0.2, 0.0), fov=30.0, name="far", weight=0.4),
        ),
        film=Film(width, height, spp),
        objects=(_plane_quad("wall", (0.0, 0.0, 0.0), WALL_NORMAL, 16.0, (0.7, 0.6, 0.5)),),
        lights=_wall_lights(),
    )
    return with_optimize(scene, *TWO_VIEW_WALL_PATHS)


SPHERE_PATHS = (
    "camera.position",
    "objects.globe.center",
    "objects.globe.radius",
    "lights.sun.direction",
    "lights.sun.irradiance",
)


def view_filling_sphere_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """A sphere of radius 5 seen from 2.2 m off its surface with a 30 degree field of view: its outline is
    far outside the film, which shows a curved cap lit by a point light and a sun from the camera's side
    (no terminator in the film). The camera's position, the sphere's centre and radius and the sun's
    direction and irradiance are free."""
    scene = Scene(
        camera=Camera(position=(0.0, 0.0, 1.2), look_at=(0.05, 0.0, -1.0), fov=30.0),
        film=Film(width, height, spp),
        objects=(Sphere("globe", center=(0.2, -0.1, -6.0), radius=5.0, albedo=(0.6, 0.5, 0.7)),),
        lights=(
            PointLight("key", (1.0, 0.8, 0.5), (3.0, 3.0, 2.5)),
            DirectionalLight("sun", unit((0.4, -0.6, -0.7)), (0.8, 0.7, 0.6)),
        ),
    )
    return with_optimize(scene, *SPHERE_PATHS)


MESH_PATHS = ("objects.slab.translate", "objects.slab.rotate.axis", "objects.slab.rotate.angle", "objects.slab.scale")
MESH_SCALE = (12.0, 10.0, 8.0)
MESH_ROTATION = Rotation(axis=unit((0.3, 1.0, 0.2)), angle=25.0)


def view_filling_mesh_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """The cube mesh scaled to 12 x 10 x 8 m and rotated, seen from 2.2 m in front of its +z face, aimed
    at a point of the face's triangle (5, 6, 7) 4.6 m from the diagonal it shares with the face's other
    triangle and 2 m from the face's edges: every pixel sees that one triangle. A point light in front of
    the face shades it. The mesh's translation, rotation axis and angle and scale are free."""
    rotation = rotation_matrix(MESH_ROTATION)
    local = np.array([0.3, -0.3, 0.5])  # object space: inside triangle (5, 6, 7) of the +z face
    aim = np.array([0.1, 0.2, -0.3])  # where that point lands in the world
    translate = aim - rotation @ (np.asarray(MESH_SCALE) * local)
    normal = rotation @ np.array([0.0, 0.0, 1.0])
    across = rotation @ np.array([1.0, 0.0, 0.0])
    scene = Scene(
        camera=Camera(position=_floats(aim + 2.2 * normal + 0.2 * across), look_at=_floats(aim), fov=40.0),
        film=Film(width, height, spp),
        objects=(cube_mesh("slab", MESH_SCALE, MESH_ROTATION, _floats(translate), albedo=(0.5, 0.6, 0.4)),),
        lights=(PointLight("key", _floats(aim + 1.4 * normal - 0.7 * across), (3.0, 3.0, 3.0)),),
    )
    return with_optimize(scene, *MESH_PATHS)


DOME_PATHS = ("camera.position", "objects.dome.center", "objects.dome.radius")


def view_filling_dome_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """The camera and a point light inside a sphere of radius 5 ("dome"): every ray hits its far root
    (the inside of a sphere, the one sphere hit a shadow ray must still test). The camera's position and
    the sphere's centre and radius are free."""
    scene = Scene(
        camera=Camera(position=(0.3, 0.2, 1.0), look_at=(0.2, -0.1, -1.0), fov=40.0),
        film=Film(width, height, spp),
        objects=(Sphere("dome", center=(0.1, 0.0, 0.0), radius=5.0, albedo=(0.6, 0.5, 0.7)),),
        lights=(PointLight("key", (1.0, 0.8, -0.5), (8.0, 8.0, 8.0)),),
    )
    return with_optimize(scene, *DOME_PATHS)


# --------------------------------------------------------------------------------------------------------
# Glossy scenes (issue 9): rough conductors (GGX) with highlights in view
# --------------------------------------------------------------------------------------------------------

from raydiff.scene.model import RoughConductor  # noqa: E402 (kept with the builders that use it)

#: Gold-like and copper-like RGB indices of refraction (eta, k); any values do, Mitsuba takes them as given.
GOLD = dict(eta=(0.18, 0.42, 1.37), k=(3.42, 2.35, 1.77))
COPPER = dict(eta=(0.27, 0.68, 1.22), k=(3.61, 2.63, 2.29))


def glossy(alpha: float, specular=(1.0, 1.0, 1.0), **ior) -> RoughConductor:
    """A GGX rough conductor (``material: none``, F = 1, unless ``eta`` and ``k`` are given)."""
    return RoughConductor(alpha=alpha, specular_reflectance=tuple(specular), **ior)


GLOSSY_FLOATING_PATHS = (
    "objects.ball.material.alpha",
    "objects.ball.material.specular_reflectance",
    "objects.panel.material.alpha",
    "objects.box.material.alpha",
    "objects.box.material.specular_reflectance",
    "lights.key.position",
    "lights.fill.position",
)


def glossy_floating_scene(width: int = 48, height: int = 36, spp: int = 4) -> Scene:
    """:func:`floating_scene` with rough conductors: a gold sphere, a perfect-reflector quad and a copper
    cube mesh, their highlights in view; roughness, specular colours and both lights' positions free (the
    lights' through the BSDF's half vector)."""
    scene = floating_scene(width, height, spp)
    materials = {"ball": glossy(0.3, (0.9, 0.8, 0.7), **GOLD), "panel": glossy(0.4, (0.7, 0.8, 0.9)),
                 "box": glossy(0.25, (0.8, 0.7, 0.9), **COPPER)}
    objects = tuple(replace(o, material=materials[o.name]) for o in scene.objects)
    return with_optimize(replace(scene, objects=objects), *GLOSSY_FLOATING_PATHS)


GLOSSY_GLOBE_PATHS = ("camera.position", "objects.globe.center", "objects.globe.radius", "lights.key.position")


def view_filling_glossy_sphere_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """:func:`view_filling_sphere_scene` with a gold rough conductor (alpha 0.35) and the point light
    moved near the mirror direction, so that its highlight is in the film: the normal-dependent terms
    (the half vector, the masking terms, the Fresnel cosine) carry the camera's, the sphere's and the
    light's gradients."""
    scene = view_filling_sphere_scene(width, height, spp)
    globe = replace(scene.object("globe"), material=glossy(0.35, (0.9, 0.85, 0.8), **GOLD))
    key = replace(scene.light("key"), position=(0.5, 0.5, 1.5))
    return with_optimize(replace(scene, objects=(globe,), lights=(key, scene.light("sun"))), *GLOSSY_GLOBE_PATHS)


GLOSSY_SLAB_PATHS = ("objects.slab.translate", "objects.slab.rotate.angle", "objects.slab.material.alpha")


def view_filling_glossy_mesh_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """:func:`view_filling_mesh_scene` with a copper rough conductor (alpha 0.3): the mesh's translation
    and rotation angle move the face's plane and its normal under the highlight; its roughness is free."""
    scene = view_filling_mesh_scene(width, height, spp)
    slab = replace(scene.object("slab"), material=glossy(0.3, (0.9, 0.9, 0.9), **COPPER))
    return with_optimize(replace(scene, objects=(slab,)), *GLOSSY_SLAB_PATHS)


def glossy_parity_scene(alpha: float, width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """A gold sphere and a copper cube mesh (both rough conductors of roughness ``alpha``) and a
    perfect-reflector sphere (alpha ``2 alpha``, clipped to 1) on a diffuse floor under two point lights
    (one behind the objects, which the box's top face mirrors towards the camera): highlights on every object, a hard shadow on the floor (the Mitsuba parity scene for glossy surfaces)."""
    return Scene(
        camera=Camera(position=(0.0, 2.0, 5.0), look_at=(0.0, 0.5, 0.0), fov=45.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.55)),
            replace(Sphere("gold", center=(-1.1, 0.6, 0.0), radius=0.6), material=glossy(alpha, (1.0, 0.95, 0.9), **GOLD)),
            replace(Sphere("chrome", center=(1.3, 0.45, 0.6), radius=0.45),
                    material=glossy(min(2.0 * alpha, 1.0), (0.8, 0.85, 0.9))),
            replace(cube_mesh("box", (0.8, 0.8, 0.8), Rotation((0.0, 1.0, 0.0), 35.0), (0.3, 0.4, -1.0)),
                    material=glossy(alpha, (0.95, 0.9, 0.9), **COPPER)),
        ),
        lights=(
            PointLight("key", (-2.0, 4.0, 2.5), (25.0, 23.0, 20.0)),
            PointLight("back", (0.3, 1.6, -4.5), (15.0, 16.0, 18.0)),  # mirrored by the box's top face
        ),
    )


# --------------------------------------------------------------------------------------------------------
# Mirrors (issue 9): smooth conductors, max_depth 3
# --------------------------------------------------------------------------------------------------------


def mirror_parity_scene(width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """A diffuse sphere over a gold mirror floor, next to a chrome mirror sphere, under a point light and a
    sun, with ``max_depth`` 3: the floor shows both spheres, the chrome sphere the diffuse one and the
    floor. The only diffuse surface is one sphere (convex: it never lights itself), so Mitsuba's path tracer
    at max_depth 3, which also follows diffuse bounces, adds nothing that raydiff leaves out."""
    return Scene(
        camera=Camera(position=(0.0, 1.6, 5.0), look_at=(0.0, 0.5, 0.0), fov=45.0),
        film=Film(width, height, spp),
        objects=(
            replace(Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0)),
                    material=Conductor(specular_reflectance=(0.95, 0.9, 0.85), **GOLD)),
            Sphere("ball", center=(-0.8, 0.8, 0.0), radius=0.6, albedo=(0.8, 0.35, 0.2)),
            replace(Sphere("chrome", center=(0.9, 0.55, 0.4), radius=0.5),
                    material=Conductor(specular_reflectance=(0.9, 0.9, 0.9))),
        ),
        lights=(
            PointLight("key", (-2.0, 3.5, 3.0), (20.0, 19.0, 17.0)),
            DirectionalLight("sun", unit((0.4, -0.8, -0.45)), (1.2, 1.2, 1.3)),
        ),
        max_depth=3,
    )


MIRROR_PATHS = (
    "lights.key.position",
    "lights.key.intensity",
    "objects.mirror.material.specular_reflectance",
    "objects.mirror.origin",
    "objects.ceiling.albedo",
    "camera.position",
)


def mirror_ceiling_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """A camera looking down at a copper mirror floor that fills its view; every reflected ray meets a
    diffuse ceiling, lit from below by a point light between the two. The camera sees the ceiling and the
    light's pool of light on it only in the mirror, and nothing in the scene has an edge or a shadow in
    view: the light, the mirror's colour and plane, the ceiling's albedo and the camera are free
    (:data:`MIRROR_PATHS`)."""
    scene = Scene(
        camera=Camera(position=(0.0, 1.2, 2.0), look_at=(0.0, 0.0, 0.0), fov=40.0),
        film=Film(width, height, spp),
        objects=(
            replace(Quad("mirror", origin=(-5.0, 0.0, -5.0), edge1=(0.0, 0.0, 10.0), edge2=(10.0, 0.0, 0.0)),
                    material=Conductor(specular_reflectance=(0.9, 0.85, 0.8), **COPPER)),
            Quad("ceiling", origin=(-9.0, 2.0, -16.0), edge1=(18.0, 0.0, 0.0), edge2=(0.0, 0.0, 22.0),
                 albedo=(0.7, 0.65, 0.6)),
        ),
        lights=(PointLight("key", (0.4, 1.1, -3.0), (3.0, 2.8, 2.6)),),
        max_depth=3,
    )
    return with_optimize(scene, *MIRROR_PATHS)


# --------------------------------------------------------------------------------------------------------
# Rough plastics (issue 9): Mitsuba's roughplastic (GGX), a diffuse base under a glossy coating
# --------------------------------------------------------------------------------------------------------

from raydiff.scene.model import RoughPlastic  # noqa: E402 (kept with the builders that use it)


def plastic(alpha: float, diffuse=(0.5, 0.5, 0.5), specular=(1.0, 1.0, 1.0), **ior) -> RoughPlastic:
    """A GGX rough plastic (Mitsuba's default indices, polypropylene in air, unless ``int_ior`` and
    ``ext_ior`` are given)."""
    return RoughPlastic(alpha=alpha, diffuse_reflectance=tuple(diffuse), specular_reflectance=tuple(specular), **ior)


def plastic_parity_scene(alpha: float, width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """:func:`glossy_parity_scene` with rough plastics: a red sphere and a green cube mesh of roughness
    ``alpha``, a blue sphere (``2 alpha``, clipped to 1, and a denser coating, ``int_ior`` 1.7) on a diffuse
    floor under two point lights: highlights on every object over their diffuse colours, a hard shadow
    on the floor (the Mitsuba parity scene for rough plastics)."""
    scene = glossy_parity_scene(alpha, width, height, spp)
    materials = {"gold": plastic(alpha, (0.7, 0.15, 0.1), (1.0, 0.95, 0.9)),
                 "chrome": plastic(min(2.0 * alpha, 1.0), (0.1, 0.2, 0.6), (0.8, 0.85, 0.9), int_ior=1.7),
                 "box": plastic(alpha, (0.2, 0.5, 0.15), (0.95, 0.9, 0.9))}
    objects = tuple(replace(o, material=materials[o.name]) if o.name in materials else o for o in scene.objects)
    return replace(scene, objects=objects)


PLASTIC_FLOATING_PATHS = (
    "objects.ball.material.diffuse_reflectance",
    "objects.ball.material.specular_reflectance",
    "objects.panel.material.diffuse_reflectance",
    "objects.box.material.diffuse_reflectance",
    "objects.box.material.specular_reflectance",
    "lights.key.position",
    "lights.fill.position",
)


def plastic_floating_scene(width: int = 48, height: int = 36, spp: int = 4) -> Scene:
    """:func:`floating_scene` with rough plastics (a sphere, a quad and a cube mesh, their highlights in
    view): the diffuse and specular colours and both lights' positions free (the lights' through the
    coating's half vector and the transmittance tables' cosines)."""
    scene = floating_scene(width, height, spp)
    materials = {"ball": plastic(0.3, (0.7, 0.4, 0.2), (0.9, 0.8, 0.7)), "panel": plastic(0.4, (0.3, 0.6, 0.5)),
                 "box": plastic(0.2, (0.5, 0.5, 0.8), (0.8, 0.7, 0.9), int_ior=1.6)}
    objects = tuple(replace(o, material=materials[o.name]) for o in scene.objects)
    return with_optimize(replace(scene, objects=objects), *PLASTIC_FLOATING_PATHS)


PLASTIC_GLOBE_PATHS = ("camera.position", "objects.globe.center", "objects.globe.material.diffuse_reflectance",
                       "lights.key.position")


def view_filling_plastic_sphere_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """:func:`view_filling_glossy_sphere_scene` with a rough plastic (alpha 0.3): the normal-dependent terms
    of both lobes carry the camera's, the sphere's and the light's gradients."""
    scene = view_filling_glossy_sphere_scene(width, height, spp)
    globe = replace(scene.object("globe"), material=plastic(0.3, (0.6, 0.5, 0.7), (0.9, 0.85, 0.8)))
    return with_optimize(replace(scene, objects=(globe,)), *PLASTIC_GLOBE_PATHS)


# --------------------------------------------------------------------------------------------------------
# Smooth shading (issue 9: OBJ normals and texture coordinates)
# --------------------------------------------------------------------------------------------------------


def uv_sphere_arrays(rings: int = 6, segments: int = 10):
    """A low-poly unit sphere: ``(vertices, faces, normals, texcoords)``, the OBJ arrays of a mesh whose
    vertex normals are the exact sphere's (every corner's ``vn`` and ``vt`` index is its ``v`` index).

    The poles are fans of triangles, the rings between them quads split in two; ``texcoords`` are
    (longitude, latitude) in [0, 1] (they wrap at the seam: enough to check what is read and interpolated).
    """
    theta = np.pi * np.arange(1, rings) / rings
    phi = 2.0 * np.pi * np.arange(segments) / segments
    ring = np.stack([np.sin(theta)[:, None] * np.cos(phi), np.repeat(np.cos(theta)[:, None], segments, 1),
                     np.sin(theta)[:, None] * np.sin(phi)], axis=-1).reshape(-1, 3)
    vertices = np.concatenate([[[0.0, 1.0, 0.0]], ring, [[0.0, -1.0, 0.0]]])
    south = len(vertices) - 1
    at = lambda r, j: 1 + r * segments + j % segments  # noqa: E731 (vertex j of ring r)
    faces = [(0, at(0, j + 1), at(0, j)) for j in range(segments)]
    for r in range(rings - 2):
        for j in range(segments):
            faces += [(at(r, j), at(r, j + 1), at(r + 1, j + 1)), (at(r, j), at(r + 1, j + 1), at(r + 1, j))]
    faces += [(south, at(rings - 2, j), at(rings - 2, j + 1)) for j in range(segments)]
    faces = np.asarray(faces, dtype=np.int64)
    texcoords = np.stack([np.arctan2(vertices[:, 2], vertices[:, 0]) / (2 * np.pi) % 1.0,
                          0.5 + np.arcsin(np.clip(vertices[:, 1], -1, 1)) / np.pi], axis=-1)
    return vertices, faces, vertices.copy(), texcoords


def uv_sphere_mesh(name: str, center, radius: float, smooth: bool = True, albedo=(0.6, 0.5, 0.4),
                   material=None, rotate: Rotation = Rotation(), scale=None) -> Mesh:
    """:func:`uv_sphere_arrays` as a Mesh of that radius about ``center``: with its normals and texture
    coordinates (shaded smooth) or without (flat)."""
    vertices, faces, normals, texcoords = uv_sphere_arrays()
    attributes = dict(texcoords=texcoords, texcoord_faces=faces, normals=normals, normal_faces=faces) if smooth else {}
    return Mesh(name, "<uv sphere>", "<uv sphere>", vertices, faces,
                scale=tuple(scale) if scale is not None else (radius, radius, radius), rotate=rotate,
                translate=tuple(center), albedo=albedo, material=material, **attributes)


def smooth_parity_scene(smooth: bool = True, width: int = 96, height: int = 72, spp: int = 256) -> Scene:
    """A diffuse and a copper (``roughconductor``, alpha 0.3) low-poly sphere mesh on a floor under a point
    light, shaded smooth (their OBJ normals) or flat: the parity scene for smooth shading."""
    return Scene(
        camera=Camera(position=(0.0, 1.6, 4.2), look_at=(0.0, 0.6, 0.0), fov=42.0),
        film=Film(width, height, spp),
        objects=(
            Quad("floor", origin=(-4.0, 0.0, -4.0), edge1=(0.0, 0.0, 8.0), edge2=(8.0, 0.0, 0.0), albedo=(0.6, 0.6, 0.55)),
            uv_sphere_mesh("matte", (-0.8, 0.65, 0.0), 0.65, smooth, albedo=(0.8, 0.45, 0.3),
                           rotate=Rotation((0.2, 1.0, 0.1), 20.0)),
            uv_sphere_mesh("copper", (0.9, 0.6, -0.3), 0.6, smooth, material=glossy(0.3, (0.95, 0.9, 0.9), **COPPER),
                           scale=(0.6, 0.7, 0.55)),
        ),
        lights=(PointLight("key", (-1.5, 3.5, 2.5), (22.0, 21.0, 20.0)),),
    )


SMOOTH_PATHS = ("objects.leaf.translate", "objects.leaf.rotate.angle", "objects.leaf.rotate.axis",
                "objects.leaf.scale", "lights.key.position")
SMOOTH_SCALE = (2.5, 2.2, 2.0)
SMOOTH_ROTATION = Rotation(axis=unit((0.3, 1.0, 0.2)), angle=25.0)


def view_filling_smooth_mesh_scene(width: int = 32, height: int = 24, spp: int = 4, material=None) -> Scene:
    """One triangle of a mesh, 5 m across, with OBJ normals tilted up to 40 degrees from its plane's, scaled
    (2.5 x 2.2 x 2: the scale turns its normals too), rotated and seen from 2.2 m in front: it fills the
    view, and its smooth shading varies across it. A point light in front shades it. The mesh's pose and
    the light's position are free."""
    vertices = np.array([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.2, 0.0]])
    normals = np.array([[2.0, 0.6, 1.0], [-1.8, 1.2, 1.0], [0.5, -2.0, 1.0]])
    faces = np.array([[0, 1, 2]], dtype=np.int64)
    rotation = rotation_matrix(SMOOTH_ROTATION)
    local = np.array([0.0, -0.25, 0.0])  # object space: the point in the middle of the view
    aim = np.array([0.1, 0.2, -0.3])
    translate = aim - rotation @ (np.asarray(SMOOTH_SCALE) * local)
    normal = rotation @ np.array([0.0, 0.0, 1.0])
    across = rotation @ np.array([1.0, 0.0, 0.0])
    leaf = Mesh("leaf", "<leaf>", "<leaf>", vertices, faces, SMOOTH_SCALE, SMOOTH_ROTATION, _floats(translate),
                albedo=(0.5, 0.6, 0.4), material=material, normals=normals, normal_faces=faces)
    scene = Scene(
        camera=Camera(position=_floats(aim + 2.2 * normal + 0.2 * across), look_at=_floats(aim), fov=40.0),
        film=Film(width, height, spp),
        objects=(leaf,),
        lights=(PointLight("key", _floats(aim + 1.4 * normal - 0.7 * across), (3.0, 3.0, 3.0)),),
    )
    return with_optimize(scene, *SMOOTH_PATHS)


def view_filling_glossy_smooth_mesh_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """:func:`view_filling_smooth_mesh_scene` in copper (rough conductor, alpha 0.3): the interpolated
    normal turns the highlight."""
    return view_filling_smooth_mesh_scene(width, height, spp, material=glossy(0.3, (0.9, 0.9, 0.9), **COPPER))
