"""Starting points for a recovery study: the free parameters of a scene moved away from their values at
random, by a relative amount ``sigma``, and kept valid.

Per free parameter (its :class:`~raydiff.scene.parameters.Kind`):

* a place (a kind whose learning rate scales with the scene: a position, a centre, a corner, a
  translation): each component plus a normal deviate of ``sigma`` times the scene's size
  (:func:`~raydiff.scene.parameters.scene_size`);
* a direction (``unit``: a directional light's, a rotation's axis): each component plus a normal deviate
  of ``sigma``, then normalised back to unit length;
* anything else (a colour, a brightness, a radius, a scale, an edge, a field of view, an angle): each
  component times ``1 + sigma * N(0, 1)``; a component at 0 moves by ``sigma`` times a floor instead
  (:data:`FLOORS`: 10 degrees of an angle, 1 of anything else);

and then clipped onto the parameter's bounds (an albedo stays in [0, 1], an intensity >= 0, a radius
keeps its sign, and whatever ``min``/``max`` the scene's ``optimize`` entry gives). Everything is drawn
from the ``numpy.random.Generator`` the caller passes, so a seed determines the start.
"""

from __future__ import annotations

import numpy as np

from .model import Scene
from .parameters import Resolved, resolve_all, scene_size

#: The scale of a relative perturbation of a component whose value is 0, per field.
FLOORS = {"rotate.angle": 10.0, "fov": 10.0}


def perturb(scene: Scene, sigma: float, rng: np.random.Generator, free: list[Resolved] | None = None) -> dict[str, np.ndarray]:
    """Perturbed values of every free parameter of ``scene``, keyed by dotted path (float64).

    Parameters
    ----------
    scene : Scene
        The values to move away from (the truth of a recovery study); its ``optimize`` entries say what.
    sigma : float
        The relative size of the perturbation (>= 0; 0 returns the values themselves, clipped).
    rng : numpy.random.Generator
    free : list of Resolved, optional
        ``resolve_all(scene)``, when the caller has it.

    Raises
    ------
    ValueError
        If ``sigma`` is negative or not finite.
    """
    if not (sigma >= 0 and np.isfinite(sigma)):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    free = resolve_all(scene) if free is None else free
    size = scene_size(scene)
    out = {}
    for r in free:
        value = np.asarray(r.start, dtype=np.float64)
        noise = rng.standard_normal(r.kind.size)
        if r.kind.unit:
            moved = value + sigma * noise
            norm = np.linalg.norm(moved)
            moved = moved / norm if norm > 0 else value
        elif r.kind.lr_scale == "scene":
            moved = value + sigma * size * noise
        else:
            scale = np.where(value != 0, np.abs(value), FLOORS.get(r.kind.field, 1.0))
            moved = value + sigma * scale * noise
        if not r.kind.unit:
            moved = np.clip(moved, r.lower, r.upper)
        out[r.path] = moved
    return out
