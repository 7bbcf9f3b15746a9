"""Vulkan gives the CPU's images and gradients for issue 9's rough conductors and rough plastics.

Rough conductors: a sphere's, a quad's and a mesh's roughness and specular colours, and the lights'
positions through the GGX BSDF; rough plastics: the diffuse and specular colours and the lights' positions
through both lobes and the transmittance tables (the floating scenes of tests/scene_builders.py). The
comparison is tests/vulkan_parity.py's; tests/test_backends.py says why the Vulkan scenes are spread over
three modules.
"""

from __future__ import annotations

import scene_builders as scenes
from vulkan_parity import (  # noqa: F401 (fixtures and tests, collected here)
    cpu_results,
    parametrize_scenes,
    test_vulkan_gradients_match_cpu,
    test_vulkan_render_matches_cpu,
    vulkan_cache,
)

#: The scenes whose renders and gradients are compared, by test id.
SCENES = {
    "glossy": scenes.glossy_floating_scene,
    "plastic": scenes.plastic_floating_scene,
}


def pytest_generate_tests(metafunc):
    parametrize_scenes(metafunc, SCENES)
