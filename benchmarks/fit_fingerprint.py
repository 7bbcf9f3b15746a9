"""A fingerprint of what the kernels compute: hashes of deterministic fits, renders and gradients.

    python benchmarks/fit_fingerprint.py

On the deterministic backend (the CPU on one thread: :func:`raydiff.init` ``deterministic=True``) runs a
few short fits and renders of the example scenes and prints one SHA-256 (first 16 hex digits) for each,
of the history, the fitted values, the final render (and, for the objective, the loss and gradients).
A change that is meant to leave every kernel's results as they were (the front end's, the uploads')
is checked by running this on main (a ``git archive`` of it on ``PYTHONPATH``) and on the branch: the
lines must be the same, bit for bit. It covers Levenberg-Marquardt (the example's default), Adam with
the gradient kernels and the boundary terms, the primary cache, a mesh scene, a sun and a texture.
"""

import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raydiff  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: (name, scene, reference, settings): each a short fit whose every array is hashed.
FITS = (
    ("three_spheres lm", "scenes/three_spheres.yaml", "assets/three_spheres_ref.png",
     dict(iterations=4, optimizer="lm", seed=3)),
    ("three_spheres adam+boundary", "scenes/three_spheres.yaml", "assets/three_spheres_ref.png",
     dict(iterations=4, optimizer="adam", boundary=True, seed=3)),
    ("three_spheres adam, no cache", "scenes/three_spheres.yaml", "assets/three_spheres_ref.png",
     dict(iterations=3, optimizer="adam", primary_sets=0, seed=5)),
    ("mesh_pose adam", "scenes/mesh_pose.yaml", "assets/mesh_pose_ref.png", dict(iterations=3, optimizer="adam", seed=3)),
    ("sun adam", "scenes/sun.yaml", "assets/sun_ref.png", dict(iterations=3, optimizer="adam", seed=3)),
    ("two_lights lm", "scenes/two_lights.yaml", "assets/two_lights_ref.png", dict(iterations=3, optimizer="lm", seed=3)),
)


def digest(*arrays) -> str:
    """The first 16 hex digits of the SHA-256 of the arrays' bytes (their dtypes and shapes included)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def main() -> int:
    raydiff.init("cpu", deterministic=True)
    for name, scene_path, reference_path, settings in FITS:
        scene = raydiff.load_scene(os.path.join(ROOT, scene_path))
        reference = raydiff.read_reference(os.path.join(ROOT, reference_path), scene.film.width, scene.film.height)
        result = raydiff.fit(scene, reference, raydiff.FitSettings(**settings))
        values = [result.values[key] for key in sorted(result.values)]
        print(f"{name:32s} history {digest(result.history)}  values {digest(*values)}")
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes/texture.yaml"))
    print(f"{'texture render':32s} image {digest(raydiff.render(scene, spp=2, seed=1))}")
    scene = raydiff.load_scene(os.path.join(ROOT, "scenes/three_spheres.yaml"))
    reference = raydiff.read_reference(os.path.join(ROOT, "assets/three_spheres_ref.png"), scene.film.width,
                                       scene.film.height)
    objective = raydiff.Objective(scene, reference, free=["lights.key.position", "objects.red.center"])
    loss, grads = objective.value_and_grad({"lights.key.position": [0.5, 3.0, 1.0], "objects.red.center": [-1.0, 0.5, 0.0]})
    print(f"{'three_spheres objective':32s} loss+grads {digest(np.float64(loss), *[grads[k] for k in sorted(grads)])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
