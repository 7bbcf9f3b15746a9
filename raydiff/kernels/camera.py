"""Primary rays of the pinhole cameras, as Mitsuba 3's ``perspective`` sensor makes them.

Each camera (view) looks from ``position`` towards ``look_at``; ``fov`` is the horizontal field of view;
pixel (0, 0) is the top-left one and covers film coordinates [0, 1) x [0, 1). Every view shares the film.

While nothing of any camera is free, each view's frame is computed once on the host and kept in a small
field that the kernels only read. Once a camera parameter is free, the frame is recomputed from the pool
for every ray, so that gradients reach the camera's position, target and field of view.
"""


from dataclasses import dataclass
from typing import Callable

import numpy as np
import taichi as ti

from ..device.scene import DeviceScene
from ..device.upload import upload
from .sampling import pixel_jitter


def camera_frame(camera, width: int, height: int):
    """Host-side frame: (position, forward, right * tan(fov/2), up * tan(fov/2) / aspect), as numpy."""
    pos = np.asarray(camera.position, dtype=np.float64)
    forward = np.asarray(camera.look_at, dtype=np.float64) - pos
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(camera.up, dtype=np.float64))
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    tan_x = np.tan(0.5 * np.radians(camera.fov))
    return pos, forward, right * tan_x, true_up * tan_x * height / width


@dataclass(frozen=True)
class Camera:
    """The ``ti.func`` functions of the scene's cameras (``view`` indexes ``dev.scene.cameras``).

    - ``camera_ray(view, x, y, sample, seed) -> (origin, direction)``: the jittered ray of one sample of
      pixel (x, y); the jitter hashes (seed, view, pixel, sample), so every pass regenerates the same ray;
    - ``film_ray(view, fx, fy) -> (origin, direction)``: the ray through a film point;
    - ``project(view, q) -> (pixel position, depth)``: where a world point lands on the film;
    - ``position(view)``: the camera's centre.

    Directions are unit length. All are differentiable in the camera's parameters when they are free.
    """

    camera_ray: Callable
    film_ray: Callable
    project: Callable
    position: Callable


def make_camera(dev: DeviceScene, width: int, height: int, spp: int) -> Camera:
    """Build the :class:`Camera` functions for this scene and film."""
    src = dev.source("camera")
    bases = dev.camera_base
    stride = bases[1] - bases[0] if len(bases) > 1 else 0
    assert all(b == bases[0] + i * stride for i, b in enumerate(bases)), "cameras are not evenly laid out"
    first = bases[0]
    root = int(round(spp**0.5))
    spp_sqrt = root if root * root == spp else 0
    aspect = float(width) / float(height)
    constant = "camera" not in dev.free_groups

    # The frames of constant cameras: (view, 4) vectors, position / forward / right / up as camera_frame.
    frames = ti.Vector.field(3, ti.f32, shape=(dev.n_views, 4))
    upload([(frames, np.array([camera_frame(c, width, height) for c in dev.scene.cameras], dtype=np.float32))])

    @ti.func
    def frame_from_pool(view):
        c = first + view * stride  # position (3), look_at (3), up (3), fov (1)
        pos = ti.Vector([src[c + 0], src[c + 1], src[c + 2]])
        target = ti.Vector([src[c + 3], src[c + 4], src[c + 5]])
        up = ti.Vector([src[c + 6], src[c + 7], src[c + 8]])
        half = 0.5 * src[c + 9] * (ti.math.pi / 180.0)
        tan_x = ti.sin(half) / ti.cos(half)  # Taichi's autodiff has no rule for ti.tan
        forward = (target - pos).normalized()
        right = forward.cross(up).normalized()
        true_up = right.cross(forward)
        return pos, forward, right * tan_x, true_up * (tan_x / aspect)

    @ti.func
    def frame(view):
        pos, forward, right, up = frames[view, 0], frames[view, 1], frames[view, 2], frames[view, 3]
        if ti.static(not constant):
            pos, forward, right, up = frame_from_pool(view)
        return pos, forward, right, up

    @ti.func
    def film_ray(view: ti.i32, fx, fy):
        """The ray through film point (fx, fy) of ``view`` (x to the right, y downwards, in [0, 1))."""
        pos, forward, right, up = frame(view)
        d = forward + (2.0 * fx - 1.0) * right + (1.0 - 2.0 * fy) * up
        return pos, d.normalized()

    @ti.func
    def camera_ray(view: ti.i32, x: ti.i32, y: ti.i32, sample: ti.i32, seed: ti.u32):
        jitter = pixel_jitter(seed, (view * height + y) * width + x, sample, spp_sqrt)
        fx = (ti.cast(x, ti.f32) + jitter[0]) / width  # film coordinates in [0, 1), x to the right
        fy = (ti.cast(y, ti.f32) + jitter[1]) / height  # and y downwards
        return film_ray(view, fx, fy)

    @ti.func
    def project(view: ti.i32, q):
        """Where the world point ``q`` lands on ``view``'s film, in pixels (x right, y down), and its depth
        along the view axis (negative: behind the camera). The inverse of :func:`film_ray`."""
        pos, forward, right, up = frame(view)
        rel = q - pos
        depth = rel.dot(forward)
        sx = rel.dot(right) / (depth * right.dot(right))  # 2 fx - 1
        sy = rel.dot(up) / (depth * up.dot(up))  # 1 - 2 fy
        return ti.Vector([0.5 * (sx + 1.0) * width, 0.5 * (1.0 - sy) * height]), depth

    @ti.func
    def position(view: ti.i32):
        pos, _, _, _ = frame(view)
        return pos

    return Camera(camera_ray=camera_ray, film_ray=film_ray, project=project, position=position)
