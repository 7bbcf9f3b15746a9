"""The example scenes do what the README says: the default fit recovers the truth to within 1%.

Each example in scenes/ starts from a wrong guess; scenes/truth/ holds the true scene and assets/ the
reference rendered from it (examples/make_references.py). benchmarks/recovery.py prints the same numbers.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raydiff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
