"""The example scenes do what the README says: the default fit recovers the truth to within 1%.

Each example in scenes/ starts from a wrong guess; scenes/truth/ holds the true scene and assets/ the
reference rendered from it (examples/make_references.py): ``<name>_ref.png``, or one ``<name>_<camera>.png``
per camera of a scene with ``cameras:``. benchmarks/recovery.py prints the same numbers.

Every example is checked here to be complete and runnable as its header says (without Taichi); the
default fits of the first two run here, and those of issue 7's examples (camera_pose, two_views,
mesh_pose, sun) and issue 8's (shadow_only, sun_shadow, outline_pose: from shadows and outlines alone)
run in tests/test_recovery.py, against these same references averaged to a smaller film.

The ``edges_*`` scenes are not fits but gradient checks (issue 8): each names its ``raydiff gradcheck``
command, and docs/gradients.md gives what it prints (they are run by hand: a check at 1024 spp takes a
minute or two on two cores).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raydiff
from raydiff.run.plots import truth_values

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Every example scene; the ones after the first two show issue 7's and 8's recoveries and name their command.
EXAMPLES = ("three_spheres", "box", "camera_pose", "two_views", "mesh_pose", "sun",
            "shadow_only", "sun_shadow", "outline_pose", "two_lights", "mesh_light", "glossy", "plastic",
            "texture")
ISSUE_7 = EXAMPLES[2:]
#: The gradient checks on shadows and outlines (scenes/edges_<name>.yaml).
EDGE_CHECKS = ("light_shadow", "sun_floor", "sphere_outline", "mesh_shadow", "camera", "mesh_outline", "lowpoly_outline")


def header_lines(path: str) -> list[str]:
    """The comment lines at the top of a scene file, without their '#'."""
    header = []
    for line in open(path, encoding="utf-8"):
        if not line.startswith("#"):
            break
        header.append(line[1:].strip())
    return header


def reference_paths(scene) -> list[str]:
    """The example's references, one per camera, relative to ROOT (examples/make_references.py's names)."""
    if not scene.several_views:
        return [f"assets/{scene.name}_ref.png"]
    return [f"assets/{scene.name}_{camera.name}.png" for camera in scene.cameras]


def _true_value(truth, path):
    group, name, field = path.split(".")
    element = truth.light(name) if group == "lights" else truth.object(name)
    return np.asarray(getattr(element, field), dtype=np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["three_spheres", "box"])
def test_example_fit_recovers_the_truth(cpu, name):
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    truth = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
    ref = raydiff.read_reference(os.path.join(ROOT, "assets", f"{name}_ref.png"), scene.film.width, scene.film.height)
    result = raydiff.fit(scene, ref, raydiff.FitSettings())  # the defaults, as `raydiff fit` uses them
    for path, value in result.values.items():
        want = _true_value(truth, path)
        start_error = np.linalg.norm(result.start[path] - want)
        error = np.linalg.norm(value - want)
        assert start_error > 0.1 * np.linalg.norm(want), f"{path}: the example should start far from the truth"
        assert error < 0.01 * np.linalg.norm(want), f"{path}: {value} vs truth {want}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_has_its_truth_and_a_reference_per_camera(name):
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    truth = raydiff.load_scene(os.path.join(ROOT, "scenes", "truth", f"{name}.yaml"))
    assert scene.optimize, "an example frees something"
    assert [c.name for c in truth.cameras] == [c.name for c in scene.cameras]
    assert truth.film == scene.film
    for path in reference_paths(scene):  # read as `raydiff fit` reads them: the film's size, LDR
        ref = raydiff.read_reference(os.path.join(ROOT, path), scene.film.width, scene.film.height)
        assert ref.low_dynamic_range and 0.02 < ref.linear.mean() < 0.9, path
    true_values = truth_values(truth, [entry.path for entry in scene.optimize])
    for entry in scene.optimize:
        assert entry.lr is None and entry.min is None and entry.max is None, \
            f"{entry.path}: the examples fit with the default learning rates and bounds"
        start = truth_values(scene, [entry.path])[entry.path]
        want = true_values[entry.path]
        assert np.linalg.norm(start - want) > 0.02 * max(np.linalg.norm(want), 1.0), \
            f"{entry.path}: the example should start visibly wrong"


@pytest.mark.parametrize("name", ISSUE_7)
def test_the_header_names_the_command_that_runs_the_example(name):
    """The comment at the top of scenes/<name>.yaml gives the exact command line, with the references in the
    order of the cameras and the true scene."""
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    header = header_lines(os.path.join(ROOT, "scenes", f"{name}.yaml"))
    command = " ".join(["raydiff fit", f"scenes/{name}.yaml", *reference_paths(scene), "--truth",
                        f"scenes/truth/{name}.yaml"])
    assert command in header, "\n".join(header)


@pytest.mark.parametrize("name", EDGE_CHECKS)
def test_every_edge_check_frees_what_moves_an_edge_and_names_its_command(name):
    path = os.path.join(ROOT, "scenes", f"edges_{name}.yaml")
    scene = raydiff.load_scene(path)
    assert scene.optimize, "a check frees what it checks"
    assert f"raydiff gradcheck scenes/edges_{name}.yaml" in header_lines(path)
