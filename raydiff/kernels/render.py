"""Rendering a scene once, without gradients."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..device.scene import DeviceScene
from ..scene.model import Scene
from .integrator import Integrator


def render_views(scene: Scene, spp: int | None = None, seed: int = 0) -> list[np.ndarray]:
    """Render every view (camera) of ``scene`` on the current backend.

    Parameters
    ----------
    scene : Scene
    spp : int, optional
        Samples per pixel (default: the film's).
    seed : int
        Sample seed; the same seed gives the same images on the same backend.

    Returns
    -------
    list of np.ndarray
        One (height, width, 3) float32 linear RGB image per camera, in ``scene.cameras`` order, row 0 at
        the top.
    """
    backend.current()
    integrator = Integrator(DeviceScene(scene), spp=spp)
    integrator.forward(seed)
    return integrator.views_numpy()


def render(scene: Scene, spp: int | None = None, seed: int = 0, view: int | str = 0) -> np.ndarray:
    """Render one view of ``scene`` (see :func:`render_views`; all views are traced together).

    Parameters
    ----------
    view : int or str
        The camera: its index in ``scene.cameras`` or its name.

    Raises
    ------
    ValueError
        If ``view`` names no camera of the scene.
    """
    names = [c.name for c in scene.cameras]
    if isinstance(view, str):
        if view not in names:
            raise ValueError(f"no camera named '{view}'; the scene's cameras: {', '.join(names)}")
        view = names.index(view)
    if not 0 <= int(view) < len(names):
        raise ValueError(f"view {view} does not exist: the scene has {len(names)} camera(s)")
    return render_views(scene, spp, seed)[int(view)]
