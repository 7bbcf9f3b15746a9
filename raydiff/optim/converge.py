"""When a fit has converged: the stop criterion, on the host, from a few rows of the history.

The loss of a fit is a Monte Carlo estimate: it jitters from iteration to iteration even when nothing
moves, and so do the parameters that follow its gradient. The criterion therefore never looks at one
iteration, but compares the means of two consecutive windows of ``window`` iterations each, A (the older)
and B (the newer), every ``window`` iterations once both are full:

* **the loss has stopped falling**: ``mean_B(loss) >= (1 - LOSS_FACTOR * tol) * mean_A(loss)``;
* **no parameter still moves**: for every free component x_i,
  ``|mean_B(x_i) - mean_A(x_i)| <= tol * scale_i``, where ``scale_i`` is the scene's size
  (:func:`raydiff.scene.parameters.scene_size`) for places, 1 for the components of a unit direction, and
  the magnitude of the value itself for the rest (at least :func:`scales`' floor: 1 degree for angles,
  0.01 for albedos and specular colours, 1e-3 of the scene's size for lengths, 1e-3 for brightness and roughness).

Both must hold at the same check. A window mean averages the noise down by sqrt(window), so noise alone
rarely passes the parameter test while the fit still travels (its drift over a window is then many times
the noise), and it cannot keep a fit running for ever: with the learning rates decaying (the default
schedule) the steps, and with them the noise of the window means, shrink until the test passes. The cap
(``iterations``) ends the fit in any case.

The check reads the device once every ``window`` iterations (the last ``2 * window`` history rows), and
it is a function of the history alone: a resumed fit, whose checkpoint holds the history, decides exactly
as the uninterrupted one would, whether its windows were full when it stopped or not.
"""

import numpy as np

from ..scene.parameters import Resolved

#: The loss test allows a fall of ``LOSS_FACTOR * tol`` of the window mean (the loss is noisier, relative
#: to its change, than the parameters).
LOSS_FACTOR = 10.0


def scales(free: list[Resolved], size: float) -> tuple[np.ndarray, np.ndarray]:
    """The fixed scale and the floor of every free component, in the order of the history's columns.

    Parameters
    ----------
    free : list of Resolved
        The fit's free parameters.
    size : float
        The scene's size (:func:`raydiff.scene.parameters.scene_size` of the starting scene).

    Returns
    -------
    fixed, floor : np.ndarray
        ``fixed[i] > 0`` is a scale that does not depend on the value (places, unit directions); where it is
        0 the scale is ``max(|x_i|, floor[i])``.
    """
    fixed, floor = [], []
    for r in free:
        kind = r.kind
        if kind.lr_scale == "scene":
            f, lo = size, size
        elif kind.unit:
            f, lo = 1.0, 1.0
        elif kind.field in ("fov", "rotate.angle"):
            f, lo = 0.0, 1.0
        elif kind.field in ("albedo", "material.specular_reflectance", "material.diffuse_reflectance"):  # colours in [0, 1]
            f, lo = 0.0, 0.01
        elif kind.device_group == "geometry":
            f, lo = 0.0, 1e-3 * size
        else:
            f, lo = 0.0, 1e-3
        columns = len(r.component_names())  # a texture's history columns are its summary
        fixed += [f] * columns
        floor += [lo] * columns
    return np.asarray(fixed, dtype=np.float64), np.asarray(floor, dtype=np.float64)


def converged(rows: np.ndarray, window: int, tol: float, fixed: np.ndarray, floor: np.ndarray) -> bool:
    """Whether the last ``2 * window`` history rows say the fit has converged (see the module's docstring).

    Parameters
    ----------
    rows : np.ndarray
        History rows (iteration, loss, every free component), oldest first; only the last ``2 * window``
        are used. Fewer than that, or ``tol <= 0``: False.
    window : int
    tol : float
    fixed, floor : np.ndarray
        From :func:`scales`.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if tol <= 0 or window < 1 or len(rows) < 2 * window:
        return False
    a, b = rows[-2 * window : -window].mean(axis=0), rows[-window:].mean(axis=0)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    loss_a, loss_b = a[1], b[1]
    if loss_b < (1.0 - LOSS_FACTOR * tol) * loss_a:
        return False
    values_a, values_b = a[2:], b[2:]
    scale = np.where(fixed > 0, fixed, np.maximum(np.abs(values_b), floor))
    return bool(np.all(np.abs(values_b - values_a) <= tol * scale))


def check_due(iteration: int, window: int, tol: float) -> bool:
    """Whether the fit checks the criterion after ``iteration`` iterations (every ``window``, once two
    windows are full)."""
    return tol > 0 and window >= 1 and iteration >= 2 * window and iteration % window == 0
