"""A fit's free textures in its output folder: each fitted texture as an image, its summary, and how far
it is from the truth.

A free texture has hundreds of thousands of scalars, so the per-parameter outputs (the history's columns,
the terminal's table, params.json, the report's table) show a summary of it, its mean per channel
(:data:`raydiff.scene.parameters.TEXTURE_SUMMARY`), and the texture itself is written as images into the
folder's ``fitted/``: ``<object>_albedo.exr`` (exact, linear: what fitted.yaml points at, written by
:func:`raydiff.scene.description.dump_scene`), ``<object>_albedo.png`` (to look at), and with a true
texture ``<object>_albedo_vs_truth.png`` (the fitted one left, the truth right) and the PSNR between them.
No Taichi.
"""

from __future__ import annotations

import math
import os
from typing import Mapping

import numpy as np

from ..errors import Location
from ..io.images import write_image
from ..scene.model import FreeParameter, Scene
from ..scene.parameters import resolve

#: Where the fitted textures go, inside the output folder (fitted.yaml's ``texture:`` entries point here).
FITTED_DIR = "fitted"


def texture_shapes(scene: Scene, paths) -> dict[str, tuple[int, ...]]:
    """The free textures among the dotted ``paths`` of ``scene``: path -> (height, width, 3)."""
    shapes = {}
    for path in paths:
        kind = resolve(scene, FreeParameter(str(path)), Location(scene.source, str(path))).kind
        if kind.texture:
            shapes[str(path)] = kind.shape
    return shapes


def texture_mean(value, shape) -> np.ndarray:
    """The mean per channel of a texture's texels (``value``: flat or (height, width, 3))."""
    return np.asarray(value, dtype=np.float64).reshape(shape).reshape(-1, shape[-1]).mean(axis=0)


def describe(value, shape) -> str:
    """One line for a texture: ``32 x 32 texture, mean [0.4, 0.5, 0.6]``."""
    mean = ", ".join(f"{x:.4g}" for x in texture_mean(value, shape))
    return f"{shape[1]} x {shape[0]} texture, mean [{mean}]"


def psnr(fitted, truth, peak: float = 1.0) -> float:
    """The peak signal-to-noise ratio of ``fitted`` against ``truth`` (same shape), in dB, for values in
    [0, ``peak``]; infinite when they are equal."""
    mse = float(np.mean((np.asarray(fitted, np.float64) - np.asarray(truth, np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)


def file_name(path: str) -> str:
    """The base name of a free texture's files: ``objects.wall.albedo`` -> ``wall_albedo``."""
    _, name, field = path.split(".", 2)
    return f"{name}_{field.replace('.', '_')}"


def write_textures(folder: str, shapes: Mapping[str, tuple], values: Mapping[str, np.ndarray],
                   truth: Mapping[str, np.ndarray] | None = None) -> list[dict]:
    """Write every fitted texture's viewing images into ``folder``/fitted (see the module's docstring).

    Parameters
    ----------
    folder : str
        The output folder.
    shapes : mapping
        :func:`texture_shapes` of the fit's free parameters.
    values : mapping
        The fitted values by path (flat texels for a texture).
    truth : mapping, optional
        True values by path; a texture's truth is used when it has the fitted one's size.

    Returns
    -------
    list of dict
        Per texture: ``path``, ``file`` (its .exr, relative to ``folder``, as fitted.yaml names it),
        ``image`` and ``comparison`` (PNG files, absolute; ``comparison`` None without a truth),
        ``mean`` and ``psnr`` (dB against the truth, or None).
    """
    out = []
    if shapes:  # a fit without a free texture leaves no fitted/ folder
        os.makedirs(os.path.join(folder, FITTED_DIR), exist_ok=True)
    for path, shape in shapes.items():
        texels = np.asarray(values[path], dtype=np.float32).reshape(shape)
        base = os.path.join(folder, FITTED_DIR, file_name(path))
        write_image(base + ".png", texels)
        comparison, quality = None, None
        true = None if truth is None or truth.get(path) is None else np.asarray(truth[path], np.float32)
        if true is not None and true.size == texels.size:
            true = true.reshape(shape)
            quality = psnr(texels, true)
            comparison = base + "_vs_truth.png"
            gap = np.ones((shape[0], max(2, shape[1] // 32), 3), np.float32)
            write_image(comparison, np.concatenate([texels, gap, true], axis=1))
        out.append({"path": path, "file": f"{FITTED_DIR}/{file_name(path)}.exr", "image": base + ".png",
                    "comparison": comparison, "mean": texture_mean(texels, shape), "psnr": quality})
    return out
