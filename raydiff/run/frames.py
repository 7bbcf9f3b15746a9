"""Composite frames for watching a fit: the render, the reference and their difference, side by side.

A composite frame is three panels of the film's size or larger (each upscaled by the same whole factor,
nearest neighbour, so that a panel is at least ``min_height`` pixels tall), with a caption strip above
naming them and one below giving the iteration and the loss::

        render            reference          error (0 to 0.0412)
    +------------+    +------------+    +------------+
    |            |    |            |    |            |
    +------------+    +------------+    +------------+
    iteration 40   loss 1.234e-03

The render and the reference are linear RGB; they are shown clamped to [0, 1] and sRGB-encoded, as the
8-bit frames are. The error panel is the per-pixel absolute difference of the two *clamped linear* images
(what the loss compares when the reference is an 8- or 16-bit file), averaged over the three channels,
divided by a scale and mapped through matplotlib's perceptual ``inferno`` colour map (black: no error,
pale yellow: the scale or more). Give every frame of a fit the same ``error_scale`` (compute it once, from
the first frame, with :func:`default_error_scale`) so that the error visibly fades as the fit converges.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

from ..io.files import atomic_write
from ..io.images import encode_8bit

BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
MUTED = (170, 170, 170)
COLORMAP = "inferno"


@functools.lru_cache(maxsize=4)
def colormap_lut(name: str = COLORMAP) -> np.ndarray:
    """A matplotlib colour map sampled into a 256-entry lookup table.

    Parameters
    ----------
    name : str
        A name known to ``matplotlib.colormaps`` (default ``"inferno"``).

    Returns
    -------
    numpy.ndarray
        (256, 3) uint8 RGB; entry 0 is the colour of 0, entry 255 that of 1. Read-only (it is cached).
    """
    from matplotlib import colormaps

    rgba = colormaps[name](np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def _as_image(value, what: str) -> np.ndarray:
    image = np.asarray(getattr(value, "linear", value), dtype=np.float64)  # a Reference or an array
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{what} must be a (height, width, 3) linear RGB image, got shape {image.shape}")
    # NaN (a diverged fit) shows as black, +inf as white, rather than as whatever a cast makes of them.
    return np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)


def _pair(render, reference) -> tuple[np.ndarray, np.ndarray]:
    render, reference = _as_image(render, "render"), _as_image(reference, "reference")
    if render.shape != reference.shape:
        raise ValueError(f"render {render.shape[:2]} and reference {reference.shape[:2]} differ in size")
    return render, reference


def error_map(render, reference) -> np.ndarray:
    """The per-pixel error the error panel shows.

    Parameters
    ----------
    render, reference : numpy.ndarray or raydiff.images.Reference
        (height, width, 3) linear RGB of the same size.

    Returns
    -------
    numpy.ndarray
        (height, width) float64: ``|clamp(render) - clamp(reference)|`` averaged over the channels,
        with both clamped to [0, 1].

    Raises
    ------
    ValueError
        If an image is not (height, width, 3) or the two differ in size.
    """
    render, reference = _pair(render, reference)
    return np.abs(np.clip(render, 0.0, 1.0) - np.clip(reference, 0.0, 1.0)).mean(axis=2)


def default_error_scale(render, reference, percentile: float = 99.0) -> float:
    """The error that maps to the top of the colour map: a high percentile of :func:`error_map`.

    Compute it once, from a fit's first frame, and pass it to every frame as ``error_scale``.

    Parameters
    ----------
    render, reference : numpy.ndarray or raydiff.images.Reference
        (height, width, 3) linear RGB of the same size.
    percentile : float
        Which percentile of the per-pixel error (default 99: a few hot pixels do not wash out the rest).

    Returns
    -------
    float
        A positive scale: the percentile, else the largest error if the percentile is 0, else 1 (the two
        images are equal).
    """
    errors = error_map(render, reference)
    for scale in (float(np.percentile(errors, percentile)), float(errors.max())):
        if scale > 0.0 and math.isfinite(scale):
            return scale
    return 1.0


def heat_map(errors: np.ndarray, scale: float) -> np.ndarray:
    """Map errors to colours: 0 -> the colour map's start, ``scale`` or more -> its end.

    Parameters
    ----------
    errors : numpy.ndarray
        (height, width) non-negative errors.
    scale : float
        Positive; the error shown at full brightness.

    Returns
    -------
    numpy.ndarray
        (height, width, 3) uint8 RGB.
    """
    if not (scale > 0.0 and math.isfinite(scale)):
        raise ValueError(f"error_scale must be a positive finite number, got {scale}")
    index = np.round(np.clip(np.nan_to_num(errors / scale, nan=1.0), 0.0, 1.0) * 255.0).astype(np.intp)
    return colormap_lut()[index]


@functools.lru_cache(maxsize=8)
def _font(size: int):
    """Pillow's built-in TrueType font (DejaVu Sans, Pillow >= 10.1 with FreeType) at ``size`` pixels;
    the fixed-size bitmap font where that cannot be had. No font file is read from disk."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: no size argument
        return ImageFont.load_default()


def _text_size(draw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom


def upscale_factor(height: int, min_height: int) -> int:
    """The whole factor that makes a panel of ``height`` rows at least ``min_height`` rows tall (>= 1)."""
    return max(1, math.ceil(min_height / max(1, height)))


def compose_frame(
    render,
    reference,
    iteration: int,
    loss: float,
    *,
    error_scale: float | None = None,
    min_height: int = 240,
) -> np.ndarray:
    """Put the render, the reference and the error heat map side by side, with captions.

    Parameters
    ----------
    render : numpy.ndarray
        (height, width, 3) linear RGB, the current render.
    reference : numpy.ndarray or raydiff.images.Reference
        (height, width, 3) linear RGB, the target (its ``linear`` image if a Reference).
    iteration : int
        Shown in the bottom caption.
    loss : float
        Shown in the bottom caption as ``1.234e-03``.
    error_scale : float, optional
        The error (see :func:`error_map`) shown at the top of the colour map. Pass the same value to
        every frame of a fit (e.g. :func:`default_error_scale` of the first frame); if None, this
        frame's own :func:`default_error_scale` is used.
    min_height : int
        Each panel is upscaled by the smallest whole factor (nearest neighbour) that makes it at least
        this many pixels tall; a film taller than this is shown at its own size.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) uint8 sRGB: the captioned composite, wider and taller than three panels.

    Raises
    ------
    ValueError
        If an image is not (height, width, 3), the two differ in size, or ``error_scale`` is not positive.
    """
    from PIL import Image, ImageDraw

    render, reference = _pair(render, reference)
    scale = default_error_scale(render, reference) if error_scale is None else float(error_scale)
    heat = heat_map(error_map(render, reference), scale)

    k = upscale_factor(render.shape[0], int(min_height))
    panels = [encode_8bit(render), encode_8bit(reference), heat]
    panels = [np.repeat(np.repeat(p, k, axis=0), k, axis=1) for p in panels]
    ph, pw = panels[0].shape[:2]

    font_size = int(np.clip(round(ph / 16), 12, 32))
    font = _font(font_size)
    pad = max(4, font_size // 2)
    labels = ["render", "reference", f"error (0 to {scale:.3g})"]
    status = f"iteration {int(iteration)}   loss {float(loss):.3e}"

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_sizes = [_text_size(measure, s, font) for s in labels]
    status_w, status_h = _text_size(measure, status, font)
    line_h = max([h for _, h in label_sizes] + [status_h])

    column_w = max(pw, max(w for w, _ in label_sizes) + 2 * pad)
    panels_w = 3 * column_w + 4 * pad
    width = max(panels_w, status_w + 2 * pad)
    top_h = line_h + 2 * pad
    height = top_h + ph + line_h + 2 * pad

    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    x0 = (width - panels_w) // 2 + pad
    for i, panel in enumerate(panels):
        x = x0 + i * (column_w + pad) + (column_w - pw) // 2
        canvas[top_h : top_h + ph, x : x + pw] = panel

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for i, (label, (w, _)) in enumerate(zip(labels, label_sizes)):
        x = x0 + i * (column_w + pad) + (column_w - w) // 2
        draw.text((x, pad), label, font=font, fill=TEXT)
    draw.text((x0, top_h + ph + pad), status, font=font, fill=MUTED)
    return np.asarray(image)


def write_composite_frame(
    path: str | os.PathLike,
    render,
    reference,
    iteration: int,
    loss: float,
    *,
    error_scale: float | None = None,
    min_height: int = 240,
) -> None:
    """Write :func:`compose_frame` as a PNG, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (PNG whatever its extension); its folder must exist.
    render, reference, iteration, loss, error_scale, min_height
        As :func:`compose_frame`.

    Raises
    ------
    OutputError
        If the file cannot be written.
    ValueError
        As :func:`compose_frame`.
    """
    from PIL import Image

    frame = Image.fromarray(
        compose_frame(render, reference, iteration, loss, error_scale=error_scale, min_height=min_height)
    )
    atomic_write(path, lambda tmp: frame.save(tmp, format="PNG"))
