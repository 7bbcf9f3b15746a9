"""Animations of a fit from its saved frames: an animated GIF (Pillow) or an H.264 MP4 (ffmpeg).

Both take the frame files in the order given, keep every ``every``-th one and always the last (so the
animation ends on the fitted state), and write atomically. The MP4 needs ffmpeg, which the optional
``video`` extra installs (``pip install 'raydiff[video]'``: imageio-ffmpeg brings a static binary);
:func:`ffmpeg_available` says whether it is there.

Memory: the MP4 writer streams, holding one frame at a time. Pillow's GIF writer needs every frame before
it writes the file, so :func:`write_gif` holds them all, but each as a 256-colour palette image (one byte
per pixel): 200 composite frames of 1000 x 300 pixels take 60 MB. Thin out longer runs with ``every``.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
from typing import Iterator, Sequence

import numpy as np

from ..errors import ImageError, OutputError
from ..io.files import atomic_write

VIDEO_EXTRA_HINT = "install the optional 'video' extra: pip install 'raydiff[video]' (imageio-ffmpeg)"
MIN_GIF_FRAME_MS = 20  # browsers show GIF frames shorter than 20 ms (2 centiseconds) for 100 ms


def select_frames(frame_paths: Sequence[str | os.PathLike], every: int = 1) -> list[str]:
    """Every ``every``-th of ``frame_paths`` (the first, the (every+1)-th, ...) and always the last.

    Parameters
    ----------
    frame_paths : sequence of str or os.PathLike
        Frame files in playing order.
    every : int
        Keep one frame in ``every`` (>= 1).

    Returns
    -------
    list of str
    """
    if int(every) < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    paths = [os.fspath(p) for p in frame_paths]
    chosen = paths[:: int(every)]
    if paths and (len(paths) - 1) % int(every) != 0:
        chosen.append(paths[-1])
    return chosen


def _check(frame_paths, path, fps: float, every: int) -> list[str]:
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    chosen = select_frames(frame_paths, every)
    if not chosen:
        raise OutputError(os.fspath(path), "no frames to animate (were frames saved? --frame-every 0 saves none)")
    return chosen


def _read_frames(paths: list[str]) -> Iterator[np.ndarray]:
    """Decode the frames one at a time as (H, W, 3) uint8, checking they all have the first one's size."""
    from PIL import Image, UnidentifiedImageError

    size = None
    for frame_path in paths:
        if not os.path.isfile(frame_path):
            raise ImageError(frame_path, "no such file (a frame of the animation)")
        try:
            with Image.open(frame_path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ImageError(frame_path, f"cannot read the frame: {err}") from None
        if size is None:
            size = pixels.shape
        elif pixels.shape != size:
            raise ImageError(
                frame_path,
                f"frame is {pixels.shape[1]}x{pixels.shape[0]} but the first is {size[1]}x{size[0]}; "
                "an animation's frames must all have one size",
            )
        yield pixels


def gif_frame_ms(fps: float) -> int:
    """How long each GIF frame shows, in milliseconds: ``1000 / fps`` rounded to the GIF's 10 ms units,
    and at least 20 ms (so at most 50 frames per second)."""
    return max(MIN_GIF_FRAME_MS, int(round(100.0 / fps)) * 10)


def write_gif(frame_paths: Sequence[str | os.PathLike], path: str | os.PathLike, fps: float = 10, every: int = 1) -> None:
    """Write the frames as an animated GIF that loops forever, atomically.

    Each frame gets its own 256-colour palette (median cut, no dithering, so still areas do not flicker).
    All kept frames are held in memory as palette images (see the module's notes).

    Parameters
    ----------
    frame_paths : sequence of str or os.PathLike
        The frame images (PNG or JPEG, all one size) in playing order.
    path : str or os.PathLike
        The GIF to write; its folder must exist.
    fps : float
        Frames per second; each frame shows for :func:`gif_frame_ms` (fps) milliseconds.
    every : int
        Keep every ``every``-th frame, and always the last.

    Raises
    ------
    OutputError
        If there are no frames, or the file cannot be written.
    ImageError
        If a frame is missing, unreadable, or not the first one's size.
    ValueError
        If ``fps`` is not positive or ``every`` is below 1.
    """
    from PIL import Image

    chosen = _check(frame_paths, path, fps, every)
    frames = [
        Image.fromarray(pixels).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        for pixels in _read_frames(chosen)
    ]
    duration = gif_frame_ms(fps)

    def write(tmp: str) -> None:
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0, disposal=1
        )

    atomic_write(path, write)


@functools.lru_cache(maxsize=1)
def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
        done = subprocess.run([exe, "-version"], capture_output=True, timeout=30, check=False)
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return None
    return exe if done.returncode == 0 else None


def ffmpeg_available() -> bool:
    """Whether :func:`write_mp4` can work: imageio-ffmpeg imports and its ffmpeg binary runs.

    The answer is found once per process (it runs ``ffmpeg -version``) and remembered.
    """
    return _ffmpeg_exe() is not None


def _even(pixels: np.ndarray) -> np.ndarray:
    """Pad an odd height or width by one row or column (repeating the edge): yuv420p needs even sizes."""
    pad_h, pad_w = pixels.shape[0] % 2, pixels.shape[1] % 2
    if pad_h or pad_w:
        return np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return pixels


def write_mp4(frame_paths: Sequence[str | os.PathLike], path: str | os.PathLike, fps: float = 10, every: int = 1) -> None:
    """Write the frames as an H.264 MP4 (yuv420p, playable in browsers), atomically, one frame at a time.

    An odd width or height is padded to even by repeating the last row or column.

    Parameters
    ----------
    frame_paths : sequence of str or os.PathLike
        The frame images (PNG or JPEG, all one size) in playing order.
    path : str or os.PathLike
        The MP4 to write; its folder must exist.
    fps : float
        Frames per second.
    every : int
        Keep every ``every``-th frame, and always the last.

    Raises
    ------
    OutputError
        If ffmpeg is not available (see :func:`ffmpeg_available`), there are no frames, or the file
        cannot be written or encoded.
    ImageError
        If a frame is missing, unreadable, or not the first one's size.
    ValueError
        If ``fps`` is not positive or ``every`` is below 1.
    """
    chosen = _check(frame_paths, path, fps, every)
    if not ffmpeg_available():
        raise OutputError(os.fspath(path), f"writing an MP4 needs ffmpeg, which is not available: {VIDEO_EXTRA_HINT}")
    import imageio.v2 as imageio

    def write(tmp: str) -> None:
        writer = imageio.get_writer(
            tmp,
            format="FFMPEG",
            mode="I",
            fps=float(fps),
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=2,  # we pad to even sizes ourselves; imageio would otherwise resize to 16s
            ffmpeg_log_level="quiet",  # the library never prints; failures raise
            output_params=["-movflags", "+faststart"],  # playable while loading
        )
        try:
            for pixels in _read_frames(chosen):
                writer.append_data(_even(pixels))
        finally:
            writer.close()

    try:
        atomic_write(path, write)
    except (OutputError, ImageError):
        raise
    except (RuntimeError, BrokenPipeError, ValueError) as err:  # imageio/ffmpeg report encoder failures so
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise OutputError(os.fspath(path), f"ffmpeg could not encode the video: {first_line}") from None
