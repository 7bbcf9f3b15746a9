"""Tests of the Mitsuba 3 oracle itself: its image orientation and its radiometry against a closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raydiff.scene.model import Camera, Film, Mesh, PointLight, Quad, Rotation, Scene, Sphere

from mitsuba_oracle import render_mitsuba

@pytest.mark.parity
def test_render_shape_and_dtype(mitsuba):
    scene = Scene(
        camera=Camera(position=(0.0, 0.0, 5.0), look_at=(0.0, 0.0, 0.0)),
        film=Film(width=16, height=8),
        objects=(Sphere("ball", (0.0, 0.0, 0.0), 1.0),),
        lights=(PointLight("key", (0.0, 0.0, 5.0), (10.0, 10.0, 10.0)),),
    )
    image = render_mitsuba(scene, spp=1)
    assert image.shape == (8, 16, 3)
    assert image.dtype == np.float32
    assert np.all(np.isfinite(image))


@pytest.mark.parity
def test_pixel_zero_zero_is_top_left(mitsuba):
    """A sphere up and to the left of the view axis lands in the image's top-left quarter."""
    width, height = 32, 24
    scene = Scene(
        camera=Camera(position=(0.0, 0.0, 5.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0), fov=40.0),
        film=Film(width=width, height=height),
        objects=(Sphere("ball", (-1.0, 0.6, 0.0), 0.3, albedo=(0.8, 0.8, 0.8)),),
        lights=(PointLight("key", (0.0, 0.0, 5.0), (20.0, 20.0, 20.0)),),
    )
    image = render_mitsuba(scene, spp=4)
    lit = image.mean(axis=-1) > 0.0
    rows, cols = np.nonzero(lit)
    assert rows.size > 0, "the sphere is not visible at all"
    assert rows.max() < height // 2 and cols.max() < width // 2, "sphere is not in the top-left quarter"

    # Where it should be: the sphere's centre projects to (col, row) = (7.2, 6.7) in pixel units
    # (half-width tan(20 deg) * 5 = 1.820 scene units over 16 pixels, half-height 1.365 over 12).
    half_w = math.tan(math.radians(20.0)) * 5.0
    half_h = half_w * height / width
    expected_col = (0.5 + -1.0 / (2 * half_w)) * width
    expected_row = (0.5 - 0.6 / (2 * half_h)) * height
    weights = image.mean(axis=-1)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    centroid_col = (weights * xs).sum() / weights.sum()
    centroid_row = (weights * ys).sum() / weights.sum()
    assert abs(centroid_col - expected_col) < 1.0
    assert abs(centroid_row - expected_row) < 1.0


def _floor_scene(size: int, light: np.ndarray, albedo, intensity, floor) -> Scene:
    return Scene(
        # Looking straight down at the origin; "up" in the image is -z.
        camera=Camera(position=(0.0, 3.0, 0.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 0.0, -1.0), fov=10.0),
        film=Film(width=size, height=size),
        objects=(floor,),
        lights=(PointLight("key", tuple(float(c) for c in light), intensity),),
    )


def _closed_form(light: np.ndarray, albedo, intensity) -> np.ndarray:
    """Radiance off the diffuse floor at the origin: albedo / pi * I * cos(theta) / r^2."""
    d = light - np.zeros(3)
    r2 = float(d @ d)
    cos_theta = d[1] / math.sqrt(r2)
    return np.asarray(albedo) / math.pi * np.asarray(intensity) * cos_theta / r2


@pytest.mark.parity
def test_quad_under_point_light_matches_closed_form(mitsuba):
    size = 33  # odd, so the centre pixel is centred on the view axis
    albedo = (0.8, 0.5, 0.2)
    intensity = (10.0, 5.0, 2.0)
    light = np.array([0.7, 1.5, -0.4])  # off-axis: cos(theta) = 0.887, r^2 = 2.90
    # edge1 x edge2 = z x x = +y: the floor faces up (it is two-sided anyway).
    floor = Quad("floor", origin=(-5.0, 0.0, -5.0), edge1=(0.0, 0.0, 10.0), edge2=(10.0, 0.0, 0.0), albedo=albedo)
    image = render_mitsuba(_floor_scene(size, light, albedo, intensity, floor), spp=64)
    expected = _closed_form(light, albedo, intensity)
    np.testing.assert_allclose(image[size // 2, size // 2], expected, rtol=0.01)


@pytest.mark.parity
def test_mesh_floor_matches_closed_form(mitsuba):
    """The same floor as a two-triangle mesh placed by scale, rotate (-90 deg about x) and translate."""
    size = 33
    albedo = (0.3, 0.6, 0.9)
    intensity = (4.0, 8.0, 3.0)
    light = np.array([-0.5, 1.2, 0.6])
    # A unit square in the object's xy plane (normal +z), turned by -90 deg about x so +z -> +y.
    floor = Mesh(
        "floor",
        file="<memory>",
        file_as_written="<memory>",
        vertices=np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        faces=np.array([[0, 1, 2], [0, 2, 3]]),
        scale=(8.0, 8.0, 1.0),
        rotate=Rotation(axis=(1.0, 0.0, 0.0), angle=-90.0),
        translate=(-4.0, 0.0, 4.0),
        albedo=albedo,
    )
    image = render_mitsuba(_floor_scene(size, light, albedo, intensity, floor), spp=64)
    expected = _closed_form(light, albedo, intensity)
    np.testing.assert_allclose(image[size // 2, size // 2], expected, rtol=0.01)
