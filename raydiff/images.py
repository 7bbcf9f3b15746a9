"""Reading and writing images; the sRGB transfer function.

Inside raydiff every image is linear RGB, float32, shaped (height, width, 3), row 0 at the top. 8- and
16-bit files are sRGB-encoded; they are decoded to linear on reading and encoded (after clamping to
[0, 1]) on writing. An 8- or 16-bit reference is *low dynamic range*: whatever was brighter than white
was clipped to 1 when it was saved, so the loss compares the render in the same clipped domain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import ImageError
from .files import atomic_write

READABLE = (".png", ".jpg", ".jpeg")
WRITABLE = (".png", ".jpg", ".jpeg")


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """The sRGB EOTF (IEC 61966-2-1), elementwise on values in [0, 1]."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """The inverse of :func:`srgb_to_linear`; values are clamped to [0, 1] first."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055)


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference image, decoded.

    Parameters
    ----------
    path : str
        The file it came from.
    linear : np.ndarray
        (height, width, 3) float32 linear RGB.
    low_dynamic_range : bool
        True for 8- and 16-bit files (values clipped at 1.0 when saved).
    """

    path: str
    linear: np.ndarray
    low_dynamic_range: bool

    @property
    def height(self) -> int:
        return self.linear.shape[0]

    @property
    def width(self) -> int:
        return self.linear.shape[1]


def _to_rgb(pixels: np.ndarray, path: str) -> np.ndarray:
    """Drop alpha and expand grey to RGB: (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) -> (H, W, 3)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ImageError(path, f"unsupported image layout {pixels.shape}; expected grey, RGB or RGBA")
    if pixels.shape[2] in (1, 2):
        return np.repeat(pixels[..., :1], 3, axis=2)
    return pixels[..., :3]


def _png_bit_depth(path: str) -> int | None:
    """The bit depth in a PNG's header (IHDR), or None if the file does not start like a PNG."""
    with open(path, "rb") as f:
        head = f.read(25)
    if len(head) < 25 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24]


def _read_png16(path: str) -> np.ndarray:
    """Decode a 16-bit PNG with pypng: Pillow, behind imageio, keeps only 8 bits of 16-bit colour PNGs."""
    import png

    width, height, rows, info = png.Reader(filename=path).asDirect()
    planes = info["planes"]
    return np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, planes)


def _decode(path: str) -> np.ndarray:
    if _png_bit_depth(path) == 16:
        return _read_png16(path)
    import imageio.v3 as iio

    return np.asarray(iio.imread(path, plugin="pillow"))


def read_image(path: str | os.PathLike) -> Reference:
    """Read a PNG or JPEG (8 or 16 bit) as linear RGB.

    Raises
    ------
    ImageError
        If the file is missing, unreadable, corrupt or of an unsupported kind.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise ImageError(path, "no such file")
    if ext not in READABLE:
        raise ImageError(path, f"unsupported image type '{ext}'; expected one of {', '.join(READABLE)}")
    try:
        pixels = _decode(path)
    except Exception as exc:  # the decoders raise many kinds; all mean "not a readable image"
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise ImageError(path, f"cannot read the image: corrupt or not a {ext[1:].upper()} file ({first_line})") from None
    if pixels.dtype == np.uint8:
        scale = 255.0
    elif pixels.dtype == np.uint16:
        scale = 65535.0
    else:
        raise ImageError(path, f"unsupported pixel type {pixels.dtype}; expected 8 or 16 bit")
    rgb = _to_rgb(pixels, path).astype(np.float64) / scale
    return Reference(path, srgb_to_linear(rgb).astype(np.float32), low_dynamic_range=True)


def read_reference(path: str | os.PathLike, width: int, height: int) -> Reference:
    """Read a reference image and check that it is ``width`` x ``height``.

    Raises
    ------
    ImageError
        As :func:`read_image`, or if the size differs from the film's.
    """
    ref = read_image(path)
    if (ref.width, ref.height) != (width, height):
        raise ImageError(
            ref.path,
            f"image is {ref.width}x{ref.height} but the scene's film is {width}x{height} "
            "(change film.width/height or pass a reference of that size)",
        )
    return ref


def encode_8bit(linear: np.ndarray) -> np.ndarray:
    """Linear RGB -> clamped, sRGB-encoded uint8."""
    return np.round(linear_to_srgb(linear) * 255.0).astype(np.uint8)


def write_image(path: str | os.PathLike, linear: np.ndarray) -> None:
    """Write a linear RGB image as an 8-bit sRGB PNG or JPEG, atomically.

    Raises
    ------
    ImageError
        For an unsupported extension.
    OutputError
        If the file cannot be written (e.g. its folder does not exist).
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in WRITABLE:
        raise ImageError(path, f"cannot write '{ext}' images; use one of {', '.join(WRITABLE)}")
    import imageio.v3 as iio

    pixels = encode_8bit(linear)
    atomic_write(path, lambda tmp: iio.imwrite(tmp, pixels, extension=ext))
