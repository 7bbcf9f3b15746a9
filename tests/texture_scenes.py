"""Scenes with textures for the texture tests (tests/test_textures.py and the Vulkan comparison)."""

from dataclasses import replace

import numpy as np

from raydiff.scene.model import Camera, Film, FreeParameter, PointLight, Quad, Scene, Sphere, Texture


def smooth_texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) texels in [0.1, 0.9]: a few low-frequency waves, different in every channel and
    in u and v (so that a flipped or transposed lookup shows), smooth enough to be seen at a few pixels
    per texel."""
    rng = np.random.default_rng(seed)
    v, u = np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij")
    out = np.empty((height, width, 3), np.float32)
    for c in range(3):
        fu, fv, pu, pv = rng.integers(1, 3), rng.integers(1, 3), rng.random() * 6.28, rng.random() * 6.28
        out[..., c] = 0.5 + 0.25 * np.sin(2 * np.pi * fu * u + pu) + 0.15 * np.cos(2 * np.pi * fv * v + pv) * u
    out[: height // 4, : width // 4] = (0.9, 0.2, 0.1)  # a corner patch: the image's top left
    return np.clip(out, 0.1, 0.9)


def textured_quad_scene(width: int = 48, height: int = 36, spp: int = 16, texels: np.ndarray | None = None,
                        cameras=None) -> Scene:
    """A textured quad (a wall at z = 0, 2.4 x 1.8, edge1 along +x, edge2 along +y) seen from the front
    under one point light; a textured ball in front of it."""
    texels = smooth_texture(16, 12) if texels is None else texels
    cams = cameras or (Camera(position=(0.3, 0.2, 3.2), look_at=(0.0, 0.0, 0.0), fov=50.0),)
    return Scene(
        camera=None,
        cameras=tuple(cams),
        film=Film(width, height, spp),
        objects=(
            Quad("wall", origin=(-1.2, -0.9, 0.0), edge1=(2.4, 0.0, 0.0), edge2=(0.0, 1.8, 0.0), albedo=Texture(texels)),
        ),
        lights=(PointLight("key", (0.5, 0.8, 3.0), (9.0, 9.0, 9.0)),),
    )


def textured_sphere_scene(width: int = 48, height: int = 36, spp: int = 16) -> Scene:
    """A textured sphere (its poles along z, towards the camera: the seam and a pole in view) in front of
    a grey wall, one point light."""
    return Scene(
        camera=None,
        cameras=(Camera(position=(0.4, 0.9, 3.0), look_at=(0.0, 0.0, 0.0), fov=45.0),),
        film=Film(width, height, spp),
        objects=(
            Quad("wall", origin=(-2.0, -1.5, -0.8), edge1=(4.0, 0.0, 0.0), edge2=(0.0, 3.0, 0.0), albedo=(0.5, 0.5, 0.5)),
            Sphere("ball", center=(0.1, 0.0, 0.2), radius=0.7, albedo=Texture(smooth_texture(24, 12, seed=3))),
        ),
        lights=(PointLight("key", (1.0, 1.5, 3.0), (10.0, 10.0, 10.0)),),
    )


def noise_texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) independent texels in [0.2, 0.8]: every texel a different colour."""
    return np.random.default_rng(seed).uniform(0.2, 0.8, (height, width, 3)).astype(np.float32)


def view_filling_textured_sphere_scene(width: int = 32, height: int = 24, spp: int = 4) -> Scene:
    """A textured sphere of radius 5 seen from 2.2 m off its surface, 30 degree field of view, on its -x
    side (theta and phi near 90 and 180 degrees: away from the poles, where uv is singular): no outline,
    no shadow and no terminator in the film, a texel or two (32 x 16 over the sphere) across it."""
    return Scene(
        camera=Camera(position=(-1.2, 0.0, 0.0), look_at=(1.0, 0.05, 0.0), fov=30.0),
        film=Film(width, height, spp),
        objects=(Sphere("globe", center=(6.0, -0.1, 0.2), radius=5.0, albedo=Texture(noise_texture(32, 16))),),
        lights=(PointLight("key", (-1.0, 0.8, 0.5), (3.0, 3.0, 2.5)),),
    )


def free_texels_scene() -> Scene:
    """:func:`textured_quad_scene` with a 4 x 3 texture, every texel free (all of them in view)."""
    scene = textured_quad_scene(48, 36, 4, texels=smooth_texture(4, 3))
    return replace(scene, optimize=(FreeParameter("objects.wall.albedo"),))


def moving_textured_sphere_scene() -> Scene:
    """:func:`view_filling_textured_sphere_scene` with the sphere's centre free (its uv moves)."""
    return replace(view_filling_textured_sphere_scene(), optimize=(FreeParameter("objects.globe.center"),))
