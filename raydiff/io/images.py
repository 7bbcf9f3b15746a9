"""Reading and writing images; the sRGB transfer function.

Inside raydiff every image is linear RGB, float32, shaped (height, width, 3), row 0 at the top. Two kinds
of file are read and written:

* PNG (8 or 16 bit) and JPEG (8 bit): sRGB-encoded. They are decoded to linear on reading and encoded
  (after clamping to [0, 1]) on writing. Such a reference is *low dynamic range*: whatever was brighter
  than white was clipped to 1 when it was saved, so the loss compares the render in the same clipped
  domain.
* OpenEXR (``.exr``, half or float channels): linear and *high dynamic range*. Values are read and
  written as they are (float32 on writing): no clamping and no transfer function, so a value of 7.5
  survives a round trip exactly. Grey (``Y``), RGB and RGBA files are read; alpha is ignored. A file with
  NaN or infinite pixels is refused.

A PNG or JPEG is read the way viewers show it: its EXIF orientation (a camera's "turned by 90 degrees",
in a JPEG's APP1 block or a PNG's eXIf chunk) is applied before its size is compared with the film's. A
file with several frames (an animated PNG or GIF) is refused rather than read as its first frame.

The convention (integer files sRGB, EXR linear) can be overridden per reference with ``space`` (see
:func:`read_reference`), for an 8-bit file that holds linear values or an EXR that holds sRGB-encoded ones;
the dynamic range stays tied to the file type.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import ImageError
from .files import atomic_write
from .paths import Problem, require_regular_file

READABLE = (".png", ".jpg", ".jpeg", ".exr")
WRITABLE = (".png", ".jpg", ".jpeg", ".exr")
HIGH_DYNAMIC_RANGE = (".exr",)  # linear float files; every other readable type is 8/16-bit sRGB
SPACES = (None, "linear", "srgb")


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
        True for 8- and 16-bit files (values clipped at 1.0 when saved), False for EXR.
    orientation : int, optional
        The file's EXIF orientation (1 to 8), already applied to ``linear``: 1 means none; 5 to 8 swap
        the stored width and height.
    """

    path: str
    linear: np.ndarray
    low_dynamic_range: bool
    orientation: int = 1

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


# Pillow modes whose pixels are not grey, RGB or RGBA values: converted to RGB before use (a CMYK JPEG
# would otherwise pass for RGBA, a palette PNG for grey indices, a 1-bit PNG for booleans).
_CONVERT_TO_RGB = ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV")


#: The EXIF tag that says how a viewer turns the stored pixels to show the picture the right way up.
EXIF_ORIENTATION = 0x0112

# For each EXIF orientation (2 to 8; 1 is as stored), how the stored (H, W, ...) pixels become what a
# viewer shows: the same as Pillow's ImageOps.exif_transpose, on numpy arrays (so 16-bit files too).
_ORIENT = {
    2: lambda a: a[:, ::-1],                        # mirrored left to right
    3: lambda a: a[::-1, ::-1],                     # turned by 180 degrees
    4: lambda a: a[::-1],                           # mirrored top to bottom
    5: lambda a: np.swapaxes(a, 0, 1),              # transposed
    6: lambda a: np.rot90(a, -1),                   # turned by 90 degrees clockwise
    7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],  # transversed
    8: lambda a: np.rot90(a, 1),                    # turned by 90 degrees counter-clockwise
}


def _orientation(image) -> int:
    """The picture's EXIF orientation (JPEG APP1, PNG eXIf chunk): 1 to 8; 1 where absent or invalid."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block: viewers ignore it too
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def oriented(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` (H, W, ...) turned as a viewer shows them, given their EXIF ``orientation`` (1 to 8)."""
    turn = _ORIENT.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))


def _decode(path: str) -> tuple[np.ndarray, int]:
    """An 8- or 16-bit file's pixels, the right way up, as uint8 or uint16: (H, W) grey or (H, W, C)
    grey+alpha, RGB, RGBA; and the EXIF orientation that was applied (1: none).

    Raises
    ------
    ImageError
        If the file holds more than one frame (an animated PNG or GIF).
    """
    from PIL import Image

    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            raise ImageError(path, f"is an animation of {frames} frames; expected a single picture "
                                   "(save the frame to match as its own file)")
        if _png_bit_depth(path) == 16:  # Pillow keeps 8 bits of these, or cannot decode them (grey+alpha)
            with contextlib.suppress(Exception):
                image.load()  # only for an eXIf chunk after the pixels; pypng decodes them
            orientation = _orientation(image)
            pixels = _read_png16(path)
        else:
            image.load()  # a PNG's eXIf chunk may come after the pixels
            orientation = _orientation(image)
            if image.mode in _CONVERT_TO_RGB:
                image = image.convert("RGB")
            pixels = np.asarray(image)
    return oriented(pixels, orientation), orientation


@contextlib.contextmanager
def _native_output_captured() -> Iterator[list[str]]:
    """Catch what the OpenEXR library prints, into a list of lines, instead of letting it through.

    OpenEXR reports a corrupt file by printing before (or instead of) raising: its C core writes to file
    descriptor 2, its Python binding prints warnings to ``sys.stdout``. The CLI promises exactly one line
    on stderr, so both are caught here (``sys.stdout``/``sys.stderr`` swapped for buffers, descriptors 1
    and 2 pointed at a temporary file) and the most telling line can go into the error message. While the
    block runs, anything other threads print is caught too; reading an image is quick, and nothing else
    prints then.
    """
    lines: list[str] = []
    python_level = io.StringIO()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _flush_c_stdio()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(python_level))
        stack.enter_context(contextlib.redirect_stderr(python_level))
        try:
            saved = [os.dup(1), os.dup(2)]
        except OSError:  # no such descriptors (an embedded interpreter): only Python-level output is caught
            saved = []
        sink = stack.enter_context(tempfile.TemporaryFile()) if saved else None
        if sink is not None:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            native = ""
            if sink is not None:
                _flush_c_stdio()  # C and C++ buffer what they print; it must land in the sink, not after it
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in saved:
                    os.close(fd)
                sink.seek(0)
                native = sink.read().decode("utf-8", "replace")
            text = native + "\n" + python_level.getvalue()
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: write out the C library's stdio buffers (which std::cout goes through too)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


def _native_reason(lines: list[str], path: str) -> str:
    """The most telling line OpenEXR printed, without the file name it starts with."""
    for line in lines:
        if "EXR_ERR" in line:
            return line.split(": ", 1)[1] if line.startswith(path + ": ") else line
    return lines[0].replace(f"'{path}'", "the file") if lines else ""


_EXR_MAGIC = b"\x76\x2f\x31\x01"
_EXR_GREY = ("Y",)
_EXR_RGB = ("R", "G", "B")


def _decode_exr(path: str) -> np.ndarray:
    """The pixels of an EXR file's first part as float32 (H, W, 1) grey or (H, W, 3) RGB.

    Raises
    ------
    ImageError
        If the file is corrupt, has no R, G, B or Y channels, or channels of an unsupported kind.
    """
    import OpenEXR

    with open(path, "rb") as f:
        if f.read(4) != _EXR_MAGIC:
            raise ImageError(path, "cannot read the image: not an EXR file (it does not start with the EXR signature)")
    error: Exception | None = None
    channels = None
    with _native_output_captured() as printed:
        try:
            with OpenEXR.File(path, separate_channels=True) as exr:
                channels = {name: channel.pixels for name, channel in exr.channels().items()}
        except Exception as exc:  # RuntimeError, ValueError...: all mean "not a readable EXR file"
            error = exc
    if error is not None or channels is None:
        reason = _native_reason(printed, path) or (str(error).strip().splitlines() or [""])[0]
        reason = reason.replace(f"'{path}'", "the file")
        raise ImageError(path, f"cannot read the image: corrupt or not an EXR file ({reason})")
    found = ", ".join(sorted(channels)) or "none"
    some = [c for c in _EXR_RGB if c in channels]
    if some and len(some) < len(_EXR_RGB):
        missing = " or ".join(c for c in _EXR_RGB if c not in channels)
        plural = "s" if len(some) > 1 else ""
        raise ImageError(path, f"has channel{plural} {' and '.join(some)} but no {missing} (found {found}); "
                               "expected all of R, G and B, or Y for a grey image")
    names = _EXR_RGB if some else _EXR_GREY if "Y" in channels else None
    if names is None:
        raise ImageError(path, f"no R, G, B or Y channels (found {found}); expected an RGB, RGBA or grey image")
    planes = [channels[name] for name in names]
    for name, plane in zip(names, planes):
        if plane.dtype not in (np.float16, np.float32):
            raise ImageError(path, f"channel {name} holds {plane.dtype} pixels; expected half or float")
        if plane.ndim != 2 or plane.shape != planes[0].shape:
            raise ImageError(path, f"channel {name} is {plane.shape} but channel {names[0]} is {planes[0].shape}; "
                                   "expected channels without subsampling")
    return np.stack([plane.astype(np.float32) for plane in planes], axis=2)


def _check_finite(path: str, pixels: np.ndarray) -> None:
    """Refuse NaN and infinite values: the loss of such a reference is NaN and the fit goes nowhere."""
    bad = ~np.isfinite(pixels).all(axis=2)
    if bad.any():
        y, x = (int(i) for i in np.argwhere(bad)[0])
        raise ImageError(path, f"contains NaN or infinite pixels ({int(bad.sum())} of {bad.size}, the first at "
                               f"x={x}, y={y}); expected finite values")


def _check_space(space: str | None) -> None:
    if space not in SPACES:
        raise ValueError(f"space must be None, 'linear' or 'srgb', got {space!r}")


def _cannot_read(problem: Problem) -> str:
    """What to say about an image path that is not a readable file."""
    if problem.wrong_kind:
        return f"{problem.reason}; expected an image file"
    return f"cannot read the image: {problem.reason}"


def read_image(path: str | os.PathLike, space: str | None = None) -> Reference:
    """Read a PNG, JPEG (8 or 16 bit) or OpenEXR file as linear RGB.

    Parameters
    ----------
    path : str or os.PathLike
        The image file; its extension decides how it is read.
    space : {None, "linear", "srgb"}, optional
        How the stored values are encoded; see :func:`read_reference`.

    Raises
    ------
    ImageError
        If the path is not a readable regular file (missing, a folder, a named pipe, a broken symbolic
        link or a link loop, each named as such), the file is corrupt, of an unsupported kind or an
        animation of several frames, or (EXR) lacks some of R, G and B or has NaN or infinite pixels.
    ValueError
        If ``space`` is not one of the three choices.
    """
    _check_space(space)
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    require_regular_file(path, lambda problem: ImageError(path, _cannot_read(problem)))
    if ext not in READABLE:
        raise ImageError(path, f"unsupported image type '{ext}'; expected one of {', '.join(READABLE)}")
    if ext in HIGH_DYNAMIC_RANGE:
        pixels = _to_rgb(_decode_exr(path), path)
        _check_finite(path, pixels)
        decoded = srgb_to_linear(pixels) if space == "srgb" else pixels
        if not (np.abs(decoded) <= np.finfo(np.float32).max).all():  # the sRGB curve's power segment
            raise ImageError(path, "values too large to decode as sRGB (above float32's range once decoded); "
                                   "expected sRGB-encoded values, or --reference-space linear")
        return Reference(path, np.asarray(decoded, dtype=np.float32), low_dynamic_range=False)
    try:
        pixels, orientation = _decode(path)
    except ImageError:
        raise
    except Exception as exc:  # the decoders raise many kinds; all mean "not a readable image"
        first_line = (str(exc).strip().splitlines() or [""])[0].replace(f" '{path}'", "")  # named already
        raise ImageError(path, f"cannot read the image: corrupt or not a {ext[1:].upper()} file ({first_line})") from None
    if pixels.dtype == np.uint8:
        scale = 255.0
    elif pixels.dtype == np.uint16:
        scale = 65535.0
    else:
        raise ImageError(path, f"unsupported pixel type {pixels.dtype}; expected 8 or 16 bit")
    rgb = _to_rgb(pixels, path).astype(np.float64) / scale
    linear = rgb if space == "linear" else srgb_to_linear(rgb)
    return Reference(path, linear.astype(np.float32), low_dynamic_range=True, orientation=orientation)


def read_reference(path: str | os.PathLike, width: int, height: int, space: str | None = None) -> Reference:
    """Read a reference image and check that it is ``width`` x ``height``.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, JPEG or EXR file.
    width, height : int
        The film's size, which the image must have.
    space : {None, "linear", "srgb"}, optional
        How the file's values are encoded. ``None`` follows the convention: 8- and 16-bit files are
        sRGB-encoded (decoded on reading), EXR files are linear (read as they are). ``"linear"``: the
        values are linear whatever the file type (an integer file is only scaled to [0, 1]). ``"srgb"``:
        the values are sRGB-encoded whatever the file type (an EXR is decoded too; values above 1 follow
        the curve's power segment). ``low_dynamic_range`` depends on the file type only.

    Raises
    ------
    ImageError
        As :func:`read_image`, or if the size (as viewers show the picture, its EXIF orientation
        applied) differs from the film's.
    ValueError
        If ``space`` is not one of the three choices.
    """
    ref = read_image(path, space=space)
    if (ref.width, ref.height) != (width, height):
        turned = ""
        if ref.orientation != 1:
            stored = f"{ref.height}x{ref.width}" if ref.orientation >= 5 else f"{ref.width}x{ref.height}"
            turned = f" as viewers show it (stored {stored}, turned by its EXIF orientation {ref.orientation})"
        raise ImageError(
            ref.path,
            f"image is {ref.width}x{ref.height}{turned} but the scene's film is {width}x{height} "
            "(change film.width/height or pass a reference of that size)",
        )
    return ref


def encode_8bit(linear: np.ndarray) -> np.ndarray:
    """Linear RGB -> clamped, sRGB-encoded uint8."""
    return np.round(linear_to_srgb(linear) * 255.0).astype(np.uint8)


def _write_exr(path: str, linear: np.ndarray) -> None:
    """Write (H, W, 3) linear RGB as a float32, ZIP-compressed, single-part scanline EXR."""
    import OpenEXR

    pixels = np.ascontiguousarray(linear, dtype=np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    error: Exception | None = None
    with _native_output_captured() as printed:
        try:
            with OpenEXR.File(header, {"RGB": pixels}) as exr:
                exr.write(path)
        except Exception as exc:
            error = exc
    if error is not None:
        reason = _native_reason(printed, path) or (str(error).strip().splitlines() or [""])[0]
        raise OSError(f"cannot write the EXR file ({reason})")


def write_image(path: str | os.PathLike, linear: np.ndarray) -> None:
    """Write a linear RGB image, atomically: 8-bit sRGB for PNG and JPEG, float32 linear for EXR.

    PNG and JPEG are clamped to [0, 1] and sRGB-encoded; EXR keeps every value as it is (float32, no
    clamping, no transfer function).

    Raises
    ------
    ImageError
        For an unsupported extension, or (EXR) an image that is not (H, W, 3).
    OutputError
        If the file cannot be written (e.g. its folder does not exist).
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in WRITABLE:
        raise ImageError(path, f"cannot write '{ext}' images; use one of {', '.join(WRITABLE)}")
    if ext in HIGH_DYNAMIC_RANGE:
        linear = np.asarray(linear)
        if linear.ndim != 3 or linear.shape[2] != 3:
            raise ImageError(path, f"cannot write an image shaped {linear.shape} as EXR; expected (height, width, 3)")
        atomic_write(path, lambda tmp: _write_exr(tmp, linear))
        return
    import imageio.v3 as iio

    pixels = encode_8bit(linear)
    atomic_write(path, lambda tmp: iio.imwrite(tmp, pixels, extension=ext))
