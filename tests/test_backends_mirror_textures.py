"""Vulkan gives the CPU's images and gradients through issue 9's mirrors and through textures.

Mirrors: a light, a mirror's colour and plane, an albedo and the camera seen through a mirror (the
reflected ray's records and its differentiated recomputation); textures: every texel of a small one, and a
textured sphere's centre, whose gradient goes through its uv. The comparison is tests/vulkan_parity.py's;
tests/test_backends.py says why the Vulkan scenes are spread over three modules.
"""

from __future__ import annotations

import scene_builders as scenes
import texture_scenes
from vulkan_parity import (  # noqa: F401 (fixtures and tests, collected here)
    cpu_results,
    parametrize_scenes,
    test_vulkan_gradients_match_cpu,
    test_vulkan_render_matches_cpu,
    vulkan_cache,
)


def _mirror_scene():
    """The mirror of tests/test_gradients.py's ``mirror_*`` cases with every path free but the mirror's
    corner, two of whose components have an exactly zero gradient (they move the mirror in its plane)."""
    paths = [p for p in scenes.MIRROR_PATHS if p != "objects.mirror.origin"]
    return scenes.with_optimize(scenes.mirror_ceiling_scene(), *paths)


#: The scenes whose renders and gradients are compared, by test id.
SCENES = {
    "mirror": _mirror_scene,
    "texels": texture_scenes.free_texels_scene,
    "textured_sphere": texture_scenes.moving_textured_sphere_scene,
}


def pytest_generate_tests(metafunc):
    parametrize_scenes(metafunc, SCENES)
