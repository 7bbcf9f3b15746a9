"""Primary rays of the pinhole camera, as Mitsuba 3's ``perspective`` sensor makes them.

The camera looks from ``position`` towards ``look_at``; ``fov`` is the horizontal field of view; pixel
(0, 0) is the top-left one and covers film coordinates [0, 1) x [0, 1). The ray is computed from the pool
each time, so gradients could reach the camera (a later parameter kind).
"""


import numpy as np
import taichi as ti

from ..device.scene import DeviceScene
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


def make_camera_ray(dev: DeviceScene, width: int, height: int, spp: int):
    """Build ``camera_ray(x, y, sample, seed) -> (origin, direction)`` for this scene and film.

    While nothing of the camera is free, its frame is computed once on the host and compiled in as
    constants; otherwise it is recomputed from the pool for every ray, so that gradients reach it.
    """
    src = dev.source("camera")
    c = dev.layout.camera
    root = int(round(spp**0.5))
    spp_sqrt = root if root * root == spp else 0
    aspect = float(width) / float(height)
    constant = "camera" not in dev.free_groups
    frame = [tuple(float(x) for x in v) for v in camera_frame(dev.scene.camera, width, height)]

    @ti.func
    def frame_from_pool():
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
    def camera_ray(x: ti.i32, y: ti.i32, sample: ti.i32, seed: ti.u32):
        pos, forward, right, up = ti.Vector(frame[0]), ti.Vector(frame[1]), ti.Vector(frame[2]), ti.Vector(frame[3])
        if ti.static(not constant):
            pos, forward, right, up = frame_from_pool()
        jitter = pixel_jitter(seed, y * width + x, sample, spp_sqrt)
        fx = (ti.cast(x, ti.f32) + jitter[0]) / width  # film coordinates in [0, 1), x to the right
        fy = (ti.cast(y, ti.f32) + jitter[1]) / height  # and y downwards
        d = forward + (2.0 * fx - 1.0) * right + (1.0 - 2.0 * fy) * up
        return pos, d.normalized()

    return camera_ray
