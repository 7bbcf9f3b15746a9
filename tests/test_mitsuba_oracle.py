"""Tests of the Mitsuba 3 oracle itself: its image orientation, its choice of camera and its radiometry
against closed forms.

Closed forms checked (two-sided Lambertian surfaces, direct light only):

* under a point light of intensity ``I`` (W/sr) at distance ``r``: ``albedo / pi * I * cos(theta) / r**2``;
* under a directional light of irradiance ``E`` (W/m^2) travelling along the unit vector ``direction``:
  ``albedo / pi * E * max(0, -direction . n)`` on the side facing the viewer, whose normal is ``n``, and
  black when the light arrives at the other side.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from raydiff.scene.model import Camera, DirectionalLight, Film, Mesh, PointLight, Quad, Rotation, Scene, Sphere

from mitsuba_oracle import render_mitsuba, scene_dict

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


# --------------------------------------------------------------------------------------------------------
# Directional lights
# --------------------------------------------------------------------------------------------------------


def _unit(v) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _sunlit_floor_scene(size: int, direction, irradiance, albedo, camera_y: float = 3.0) -> Scene:
    """The floor quad at y = 0 seen straight from above (or below, ``camera_y < 0``) under one sun."""
    floor = Quad("floor", origin=(-5.0, 0.0, -5.0), edge1=(0.0, 0.0, 10.0), edge2=(10.0, 0.0, 0.0), albedo=albedo)
    return Scene(
        camera=Camera(position=(0.0, camera_y, 0.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 0.0, -1.0), fov=10.0),
        film=Film(width=size, height=size),
        objects=(floor,),
        lights=(DirectionalLight("sun", tuple(_unit(direction)), irradiance),),
    )


def _sun_closed_form(direction, irradiance, albedo, normal) -> np.ndarray:
    """Radiance off a diffuse surface with unit ``normal`` (the viewer's side): albedo / pi * E * cos."""
    cos_theta = max(0.0, -float(_unit(direction) @ np.asarray(normal, dtype=np.float64)))
    return np.asarray(albedo) / math.pi * np.asarray(irradiance) * cos_theta


@pytest.mark.parity
def test_directional_emitter_dictionary(mitsuba):
    """A DirectionalLight becomes Mitsuba's ``directional`` emitter, its direction made unit length."""
    scene = Scene(
        camera=Camera(position=(0.0, 0.0, 5.0), look_at=(0.0, 0.0, 0.0)),
        film=Film(width=4, height=4),
        objects=(Sphere("ball", (0.0, 0.0, 0.0), 1.0),),
        lights=(DirectionalLight("sun", (0.0, -2.0, 0.0), (1.0, 2.0, 3.0)),),
    )
    mitsuba.set_variant("scalar_rgb")
    emitter = scene_dict(scene, spp=1)["sun"]
    assert emitter == {
        "type": "directional",
        "direction": [0.0, -1.0, 0.0],
        "irradiance": {"type": "rgb", "value": [1.0, 2.0, 3.0]},
    }


@pytest.mark.parity
@pytest.mark.parametrize(
    "direction",
    [(0.0, -1.0, 0.0), (0.5, -1.0, 0.3), (-1.2, -0.6, 0.9)],
    ids=["overhead", "oblique", "grazing"],
)
def test_quad_under_directional_light_matches_closed_form(mitsuba, direction):
    """``direction`` is the way the light travels (here downwards, onto the top of the floor), and the
    radiance is ``albedo / pi * E * cos(theta)`` everywhere on the floor: it does not fall off with distance."""
    size = 33
    albedo = (0.8, 0.5, 0.2)
    irradiance = (3.0, 2.0, 1.5)
    image = render_mitsuba(_sunlit_floor_scene(size, direction, irradiance, albedo), spp=16)
    expected = _sun_closed_form(direction, irradiance, albedo, normal=(0.0, 1.0, 0.0))
    np.testing.assert_allclose(image[size // 2, size // 2], expected, rtol=0.01)
    # The whole view (0.52 m across) is floor at the same angle to the sun: one colour.
    np.testing.assert_allclose(image.reshape(-1, 3), np.broadcast_to(expected, (size * size, 3)), rtol=0.01)


@pytest.mark.parity
def test_directional_light_lights_one_side_of_a_two_sided_floor(mitsuba):
    """A sun travelling *upwards* lights the floor's underside: black from above, the closed form from below."""
    size = 17
    albedo = (0.3, 0.6, 0.9)
    irradiance = (2.0, 4.0, 1.0)
    direction = (0.4, 1.0, -0.2)
    from_above = render_mitsuba(_sunlit_floor_scene(size, direction, irradiance, albedo, camera_y=3.0), spp=4)
    from_below = render_mitsuba(_sunlit_floor_scene(size, direction, irradiance, albedo, camera_y=-3.0), spp=4)
    assert np.all(from_above == 0.0)
    expected = _sun_closed_form(direction, irradiance, albedo, normal=(0.0, -1.0, 0.0))
    np.testing.assert_allclose(from_below[size // 2, size // 2], expected, rtol=0.01)


@pytest.mark.parity
def test_tilted_mesh_facing_the_sun_gets_full_irradiance(mitsuba):
    """A two-triangle mesh square turned to face a sun coming in at 60 degrees from the vertical: at normal
    incidence the radiance is ``albedo / pi * E`` (cos = 1), seen by a camera looking at it head on."""
    size = 17
    albedo = (0.7, 0.4, 0.25)
    irradiance = (2.5, 2.5, 2.0)
    # The square's normal is +z in object space; rotating by -60 deg about x turns it to (0, sin 60, cos 60).
    normal = np.array([0.0, math.sin(math.radians(60.0)), math.cos(math.radians(60.0))])
    panel = Mesh(
        "panel",
        file="<memory>",
        file_as_written="<memory>",
        vertices=np.array([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]]),
        faces=np.array([[0, 1, 2], [0, 2, 3]]),
        scale=(3.0, 3.0, 1.0),
        rotate=Rotation(axis=(1.0, 0.0, 0.0), angle=-60.0),
        albedo=albedo,
    )
    scene = Scene(
        camera=Camera(position=tuple(4.0 * normal), look_at=(0.0, 0.0, 0.0), fov=10.0),
        film=Film(width=size, height=size),
        objects=(panel,),
        lights=(DirectionalLight("sun", tuple(-normal), irradiance),),
    )
    image = render_mitsuba(scene, spp=4)
    expected = np.asarray(albedo) / math.pi * np.asarray(irradiance)
    np.testing.assert_allclose(image[size // 2, size // 2], expected, rtol=0.01)


def _sphere_over_floor(size: int, direction) -> Scene:
    """A small sphere 0.2 m above a grey floor (centre), seen straight from above, under one sun."""
    return Scene(
        camera=Camera(position=(0.0, 5.0, 0.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 0.0, -1.0), fov=30.0),
        film=Film(width=size, height=size),
        objects=(
            Quad("floor", origin=(-5.0, 0.0, -5.0), edge1=(0.0, 0.0, 10.0), edge2=(10.0, 0.0, 0.0)),
            Sphere("ball", center=(0.0, 0.2, 0.0), radius=0.15),
        ),
        lights=(DirectionalLight("sun", tuple(_unit(direction)), (1.0, 1.0, 1.0)),),
    )


@pytest.mark.parity
def test_sphere_casts_a_hard_shadow_under_the_sun(mitsuba):
    """Shadow rays towards the sun go against ``direction``: a sun travelling along (1, -1, 0) (45 degrees,
    towards +x, image right) puts the sphere's shadow 0.2 m (its height) to the right of the point below
    it, exactly black, where an overhead sun lights the floor."""
    size = 41
    overhead = render_mitsuba(_sphere_over_floor(size, (0.0, -1.0, 0.0)), spp=4)
    tilted = render_mitsuba(_sphere_over_floor(size, (1.0, -1.0, 0.0)), spp=4)
    half = math.tan(math.radians(15.0)) * 5.0  # half the view, in metres on the floor
    col = int((0.5 + 0.2 / (2 * half)) * size)  # the pixel over the shadow's centre, x = 0.2
    mirrored = size - 1 - col  # x = -0.2, towards the sun
    assert np.all(tilted[size // 2, col] == 0.0), "no shadow to the right of the sphere"
    assert np.all(overhead[size // 2, col] > 0.0), "the overhead sun should light that spot"
    assert np.all(tilted[size // 2, mirrored] > 0.0), "the shadow is on the side the sun comes from"
    floor = (0.0, 1.0, 0.0)
    np.testing.assert_allclose(overhead[0, 0], _sun_closed_form((0.0, -1.0, 0.0), (1.0,) * 3, (0.5,) * 3, floor), rtol=0.01)
    np.testing.assert_allclose(tilted[0, 0], _sun_closed_form((1.0, -1.0, 0.0), (1.0,) * 3, (0.5,) * 3, floor), rtol=0.01)


# --------------------------------------------------------------------------------------------------------
# Several cameras
# --------------------------------------------------------------------------------------------------------


def _two_camera_scene(width: int, height: int) -> Scene:
    """A sphere up and to the left of the origin (-x, +y), seen from +z ("front") and from -z ("back")."""
    return Scene(
        camera=None,
        cameras=(
            Camera(position=(0.0, 0.0, 5.0), look_at=(0.0, 0.0, 0.0), fov=40.0, name="front"),
            Camera(position=(0.0, 0.0, -5.0), look_at=(0.0, 0.0, 0.0), fov=40.0, name="back"),
        ),
        film=Film(width=width, height=height),
        objects=(Sphere("ball", (-1.0, 0.8, 0.0), 0.5, albedo=(0.8, 0.8, 0.8)),),
        # One light, above: a second one would make Mitsuba's light selection the main noise.
        lights=(PointLight("key", (0.0, 3.0, 0.0), (20.0, 20.0, 20.0)),),
    )


@pytest.mark.parity
def test_view_selects_the_camera(mitsuba):
    """``view=0`` is the front camera: the sphere is top-left; ``view=1`` looks from behind: top-right."""
    width, height = 64, 48
    scene = _two_camera_scene(width, height)
    front = render_mitsuba(scene, spp=16)
    np.testing.assert_array_equal(front, render_mitsuba(scene, spp=16, view=0))
    back = render_mitsuba(scene, spp=16, view=1)
    for image, left in ((front, True), (back, False)):
        rows, cols = np.nonzero(image.mean(axis=-1) > 0.0)
        assert rows.size > 0, "the sphere is not visible at all"
        assert rows.max() < height // 2, "the sphere is not in the top half"
        if left:
            assert cols.max() < width // 2, "the sphere is not in the left half of the front view"
        else:
            assert cols.min() >= width // 2, "the sphere is not in the right half of the back view"
    # Mirror images of each other (turning the scene half round about y swaps the cameras, keeps the light
    # and sends the sphere from x = -1 to x = +1): the same brightness, the centroid mirrored left-right.
    def centroid_col(image):
        weights = image.mean(axis=-1)
        return float((weights * (np.arange(width) + 0.5)).sum() / weights.sum())

    assert abs(centroid_col(back) - (width - centroid_col(front))) < 0.5
    np.testing.assert_allclose(back.sum(), front.sum(), rtol=0.05)


@pytest.mark.parity
@pytest.mark.parametrize("view", [2, -1, 1.0, True])
def test_view_out_of_range_is_refused(mitsuba, view):
    with pytest.raises(IndexError, match="camera index"):
        render_mitsuba(_two_camera_scene(8, 6), spp=1, view=view)
