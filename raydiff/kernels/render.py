"""Rendering a scene once, without gradients."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..device.scene import DeviceScene
from .integrator import Integrator
from ..scene.model import Scene


def render(scene: Scene, spp: int | None = None, seed: int = 0) -> np.ndarray:
    """Render ``scene`` on the current backend.

    Parameters
    ----------
    scene : Scene
    spp : int, optional
        Samples per pixel (default: the film's).
    seed : int
        Sample seed; the same seed gives the same image on the same backend.

    Returns
    -------
    np.ndarray
        (height, width, 3) float32 linear RGB, row 0 at the top.
    """
    backend.current()
    integrator = Integrator(DeviceScene(scene), spp=spp)
    integrator.forward(seed)
    return integrator.to_numpy()
