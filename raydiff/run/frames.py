"""Composite frames for watching a fit: the render, the reference and their difference, side by side.

A composite frame is three panels of the film's size or larger (each upscaled by the same whole factor,
nearest neighbour, so that a panel is at least ``min_height`` pixels tall), with a caption strip above
naming them and one below giving the iteration and the loss::

        render            reference          error (0 to 0.0412)
    +------------+    +------------+    +------------+
    |            |    |            |    |            |
    +------------+    +------------+    +------------+
    iteration 40   loss 1.234e-03

A fit with several views (cameras, each with its own render and reference) gets one such row of three
panels per view, each row captioned at its left with the view's name (and, when the views' error scales
differ, its own scale); the column labels stay once at the top and the iteration and loss once at the
bottom::

                         render            reference          error
                     +------------+    +------------+    +------------+
    front            |            |    |            |    |            |
    error 0 to 0.041 |            |    |            |    |            |
                     +------------+    +------------+    +------------+
                     +------------+    +------------+    +------------+
    overhead         |            |    |            |    |            |
    error 0 to 0.017 |            |    |            |    |            |
                     +------------+    +------------+    +------------+
    iteration 40   loss 1.234e-03

The render and the reference are linear RGB; they are shown clamped to [0, 1] and sRGB-encoded, as the
8-bit frames are. The error panel is the per-pixel absolute difference of the two *clamped linear* images
(what the loss compares when the reference is an 8- or 16-bit file), averaged over the three channels,
divided by a scale and mapped through matplotlib's perceptual ``inferno`` colour map (black: no error,
pale yellow: the scale or more). Give every frame of a fit the same ``error_scale`` (compute it once, per
view, from the first frame, with :func:`default_error_scale`) so that the error visibly fades as the fit
converges.

A frame has a ceiling: the panels of a row are at most :data:`MAX_PANELS_WIDTH` pixels wide together and
the rows at most :data:`MAX_PANELS_HEIGHT` tall, so that any film (2000 x 1, 16384 x 16384, 64 views) gives
frames an animation can hold (a GIF is at most 65535 pixels a side, and holds every frame). The upscale
factor is lowered to fit, and a film too large even at its own size is shown shrunk by a whole factor
(each panel pixel the mean of a block of film pixels), which the bottom caption says.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

from ..io.files import atomic_write
from ..io.images import encode_8bit

#: The widest the three panels of a row may be together, and the tallest all rows together, in pixels.
MAX_PANELS_WIDTH = 4096
MAX_PANELS_HEIGHT = 4096

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
    render, reference : numpy.ndarray or raydiff.io.images.Reference
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
    render, reference : numpy.ndarray or raydiff.io.images.Reference
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


def panel_scale(height: int, width: int, views: int = 1, min_height: int = 240) -> tuple[int, int]:
    """How a film of ``height`` x ``width`` is drawn in a frame of ``views`` rows: ``(up, down)``.

    Each panel is the film enlarged ``up`` times (nearest neighbour) or shrunk ``down`` times (block means),
    one of the two being 1: enlarged by :func:`upscale_factor` as far as the ceiling
    (:data:`MAX_PANELS_WIDTH` for three panels side by side, :data:`MAX_PANELS_HEIGHT` for ``views`` rows)
    allows, else shrunk by the smallest whole factor that fits.

    Returns
    -------
    tuple of int
    """
    height, width, views = max(1, int(height)), max(1, int(width)), max(1, int(views))
    cap, down = _ceiling(views * height, width)
    return (min(upscale_factor(height, min_height), cap), 1) if cap else (1, down)


def _ceiling(rows_height: int, widest: int) -> tuple[int, int]:
    """``(the largest upscale factor, 0 if none fits; the smallest shrink factor that fits)`` for rows of
    ``rows_height`` pixels together and panels ``widest`` pixels wide."""
    cap = min(MAX_PANELS_WIDTH // (3 * widest), MAX_PANELS_HEIGHT // rows_height)
    return cap, max(1, math.ceil(3 * widest / MAX_PANELS_WIDTH), math.ceil(rows_height / MAX_PANELS_HEIGHT))


def shrink(image, down: int) -> np.ndarray:
    """``image`` (height, width, channels), each ``down`` x ``down`` block replaced by its mean (the blocks
    of the last row and column may be partial); float32, computed a band of rows at a time."""
    pixels = np.asarray(getattr(image, "linear", image))
    if down <= 1:
        return pixels
    h, w = pixels.shape[:2]
    out_w, full_w = math.ceil(w / down), (w // down) * down
    out = np.empty((math.ceil(h / down), out_w) + pixels.shape[2:], dtype=np.float32)
    for i, y in enumerate(range(0, h, down)):
        band = np.asarray(pixels[y : y + down], dtype=np.float32)
        if full_w:
            out[i, : w // down] = band[:, :full_w].reshape(band.shape[0], w // down, down, *band.shape[2:]).mean(axis=(0, 2))
        if full_w < w:
            out[i, -1] = band[:, full_w:].mean(axis=(0, 1))
    return out


def _views(value, what: str) -> list:
    """One entry per view: a list or tuple as given, anything else (an array, a Reference) as one view."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{what} is an empty sequence: give one image per view, at least one")
        return list(value)
    return [value]


def _view_names(view_names, n: int) -> list[str]:
    if view_names is None:
        return [f"view {i}" for i in range(n)]
    names = [view_names] if isinstance(view_names, str) else [str(name) for name in view_names]
    if len(names) != n:
        raise ValueError(f"view_names has {len(names)} name(s) but there are {n} view(s): give one name per view")
    return names


def _error_scales(error_scale, n: int) -> list[float | None]:
    if error_scale is None:
        return [None] * n
    if np.ndim(error_scale) == 0:
        return [float(error_scale)] * n
    scales = [None if s is None else float(s) for s in error_scale]
    if len(scales) != n:
        raise ValueError(
            f"error_scale has {len(scales)} value(s) but there are {n} view(s): give one float for all views "
            "or one per view"
        )
    return scales


def compose_frame(
    render,
    reference,
    iteration: int,
    loss: float,
    *,
    error_scale=None,
    min_height: int = 240,
    view_names=None,
) -> np.ndarray:
    """Put the render, the reference and the error heat map side by side, with captions; one row per view.

    Parameters
    ----------
    render : numpy.ndarray or sequence of numpy.ndarray
        (height, width, 3) linear RGB, the current render; or a list or tuple of them, one per view (a
        camera with its own render and reference). Only a list or a tuple counts as several views.
    reference : numpy.ndarray, raydiff.io.images.Reference, or sequence of them
        (height, width, 3) linear RGB, the target (its ``linear`` image if a Reference), the size of its
        render; or a list or tuple with one per view, as many as ``render`` has.
    iteration : int
        Shown in the bottom caption.
    loss : float
        Shown in the bottom caption as ``1.234e-03``.
    error_scale : float or sequence of float, optional
        The error (see :func:`error_map`) shown at the top of the colour map: one value for every view, or
        one per view (an entry may be None). Pass the same value(s) to every frame of a fit (e.g.
        :func:`default_error_scale` of each view of the first frame); where None, the view's own
        :func:`default_error_scale` in this frame is used. A scale shared by all views is named in the
        error column's label; otherwise each row names its own under the view's name.
    min_height : int
        Each panel is upscaled by the smallest whole factor (nearest neighbour) that makes it at least
        this many pixels tall; a film taller than this is shown at its own size.
    view_names : sequence of str, optional
        With several views, the caption at the left of each row (default ``view 0``, ``view 1``, ...);
        one per view. A single view has no row caption, so its frame is the same whatever its name.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) uint8 sRGB: the captioned composite. One view: three panels side by side. Several views:
        one row of three panels per view, top to bottom in the given order, with the column labels once
        above the rows and the iteration and loss once below; rows of narrower views are centred in
        columns as wide as the widest view.

    Raises
    ------
    ValueError
        If an image is not (height, width, 3), a render and its reference differ in size, an
        ``error_scale`` is not positive, a sequence is empty, or ``render``, ``reference``,
        ``error_scale`` and ``view_names`` do not all have one entry per view.
    """
    from PIL import Image, ImageDraw

    renders, references = _views(render, "render"), _views(reference, "reference")
    n = len(renders)
    if len(references) != n:
        raise ValueError(
            f"render has {n} view(s) but reference has {len(references)}: give one reference per render"
        )
    names = _view_names(view_names, n)
    scales = _error_scales(error_scale, n)
    shapes = [np.shape(getattr(r, "linear", r)) for r in renders]
    rows_height = max(1, sum(s[0] for s in shapes if len(s) == 3))
    widest = max([s[1] for s in shapes if len(s) == 3] + [1])
    up, down = _ceiling(rows_height, widest)
    if up:
        down = 1
    else:
        up = 1
        renders, references = [shrink(r, down) for r in renders], [shrink(r, down) for r in references]

    rows = []  # per view: the three upscaled panels
    for i, (view_render, view_reference) in enumerate(zip(renders, references)):
        try:
            view_render, view_reference = _pair(view_render, view_reference)
            if scales[i] is None:
                scales[i] = default_error_scale(view_render, view_reference)
            heat = heat_map(error_map(view_render, view_reference), scales[i])
        except ValueError as error:
            if n == 1:
                raise
            raise ValueError(f"{names[i]}: {error}") from None
        k = min(upscale_factor(view_render.shape[0], int(min_height)), up)
        panels = [encode_8bit(view_render), encode_8bit(view_reference), heat]
        rows.append([np.repeat(np.repeat(p, k, axis=0), k, axis=1) for p in panels])
    panel_sizes = [row[0].shape[:2] for row in rows]

    font_size = int(np.clip(round(min(ph for ph, _ in panel_sizes) / 16), 12, 32))
    font = _font(font_size)
    pad = max(4, font_size // 2)
    scale_texts = [f"{scale:.3g}" for scale in scales]
    shared_scale = len(set(scale_texts)) == 1
    labels = ["render", "reference", f"error (0 to {scale_texts[0]})" if shared_scale else "error"]
    status = f"iteration {int(iteration)}   loss {float(loss):.3e}" + (f"   (shown at 1/{down} size)" if down > 1 else "")
    # several views: each row's caption, the view's name and, unless shared, its error scale
    captions = [] if n == 1 else [[name] + ([] if shared_scale else [f"error 0 to {text}"])
                                  for name, text in zip(names, scale_texts)]

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_sizes = [_text_size(measure, s, font) for s in labels]
    status_w, status_h = _text_size(measure, status, font)
    caption_sizes = [[_text_size(measure, s, font) for s in lines] for lines in captions]
    line_h = max([h for _, h in label_sizes] + [status_h] + [h for sizes in caption_sizes for _, h in sizes])
    line_gap = pad // 2
    caption_w = max((w for sizes in caption_sizes for w, _ in sizes), default=0)
    caption_h = max((len(sizes) * line_h + (len(sizes) - 1) * line_gap for sizes in caption_sizes), default=0)

    column_w = max(max(pw for _, pw in panel_sizes), max(w for w, _ in label_sizes) + 2 * pad)
    panels_w = 3 * column_w + 4 * pad
    gutter_w = caption_w + pad if captions else 0  # the row captions' column, left of the panels
    grid_w = gutter_w + panels_w
    width = max(grid_w, status_w + 2 * pad)
    top_h = line_h + 2 * pad
    row_gap = pad
    row_hs = [max(ph, caption_h) for ph, _ in panel_sizes]
    row_ys = [top_h + sum(row_hs[:i]) + i * row_gap for i in range(n)]
    rows_bottom = row_ys[-1] + row_hs[-1]
    height = rows_bottom + line_h + 2 * pad

    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    left = (width - grid_w) // 2 + pad  # where the captions (or, for one view, the panels) start
    x0 = left + gutter_w
    for row, (ph, pw), row_y, row_h in zip(rows, panel_sizes, row_ys, row_hs):
        y = row_y + (row_h - ph) // 2
        for i, panel in enumerate(row):
            x = x0 + i * (column_w + pad) + (column_w - pw) // 2
            canvas[y : y + ph, x : x + pw] = panel

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for i, (label, (w, _)) in enumerate(zip(labels, label_sizes)):
        x = x0 + i * (column_w + pad) + (column_w - w) // 2
        draw.text((x, pad), label, font=font, fill=TEXT)
    for lines, row_y, row_h in zip(captions, row_ys, row_hs):
        block_h = len(lines) * line_h + (len(lines) - 1) * line_gap
        y = row_y + (row_h - block_h) // 2
        for j, line in enumerate(lines):
            draw.text((left, y + j * (line_h + line_gap)), line, font=font, fill=TEXT if j == 0 else MUTED)
    draw.text((left, rows_bottom + pad), status, font=font, fill=MUTED)
    return np.asarray(image)


def write_composite_frame(
    path: str | os.PathLike,
    render,
    reference,
    iteration: int,
    loss: float,
    *,
    error_scale=None,
    min_height: int = 240,
    view_names=None,
) -> None:
    """Write :func:`compose_frame` as a PNG, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (PNG whatever its extension); its folder must exist.
    render, reference, iteration, loss, error_scale, min_height, view_names
        As :func:`compose_frame` (a single view, or sequences with one entry per view).

    Raises
    ------
    OutputError
        If the file cannot be written.
    ValueError
        As :func:`compose_frame`.
    """
    from PIL import Image

    frame = Image.fromarray(
        compose_frame(
            render, reference, iteration, loss, error_scale=error_scale, min_height=min_height, view_names=view_names
        )
    )
    atomic_write(path, lambda tmp: frame.save(tmp, format="PNG"))
