"""Shared pieces of the benchmarks: the sphere-over-floor scene and a timer."""

import statistics
import time

import numpy as np
import taichi as ti

import raydiff
from raydiff.io.images import Reference
from raydiff.scene.parameters import with_values

SPHERE_OVER_FLOOR = """
camera: {{position: [0, 1.5, 4], look_at: [0, 0.4, 0], fov: 40}}
film: {{width: {width}, height: {height}, spp: {spp}}}
objects:
  - {{name: floor, type: quad, origin: [-3, 0, 3], edge1: [6, 0, 0], edge2: [0, 0, -6], albedo: 0.7}}
  - {{name: ball, type: sphere, center: [0, 0.5, 0], radius: 0.5, albedo: [0.8, 0.3, 0.2]}}
lights:
  - {{name: light, type: point, position: [1, 3, 1], intensity: 10}}
optimize:
  lights.light.position: {{}}
"""


def sphere_over_floor(width: int, height: int, spp: int):
    """The benchmark scene (the one benchmarks/mitsuba_baseline.py builds for Mitsuba) and its reference:
    the light starts at (0.5, 2.5, 1.5), the truth is (1, 3, 1)."""
    truth = raydiff.load_scene_string(SPHERE_OVER_FLOOR.format(width=width, height=height, spp=spp))
    reference = Reference("<rendered>", np.clip(raydiff.render(truth, spp=spp, seed=1), 0, 1), True)
    start = with_values(truth, {"lights.light.position": np.array([0.5, 2.5, 1.5])})
    return start, reference


def median_ms(step, iterations: int, warmup: int) -> float:
    """Median wall time of ``step()`` in milliseconds, synchronising the device after each call."""
    for _ in range(warmup):
        step()
    ti.sync()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        step()
        ti.sync()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def add_scene_arguments(parser, iterations: int = 10) -> None:
    """The options of the benchmarks that time the scenes of benchmarks/versus_mitsuba.py: ``--scenes``,
    the film (``--width``, ``--height``, ``--spp``) and ``--iterations``."""
    parser.add_argument("--scenes", default="three_spheres,two_lights,mesh_light")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--spp", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=iterations)
