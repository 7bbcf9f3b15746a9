"""Reading and writing images, and the sRGB transfer function. No Taichi here.

Test files are written with imageio where it can (8-bit anything, 16-bit grey) and with a minimal PNG
encoder below where it cannot (16-bit RGB, RGBA and grey+alpha: Pillow writes none of them).
"""

from __future__ import annotations

import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest

from raydiff.errors import ImageError, OutputError
from raydiff.images import (
    Reference,
    encode_8bit,
    linear_to_srgb,
    read_image,
    read_reference,
    srgb_to_linear,
    write_image,
)


def write_png(path, pixels: np.ndarray) -> None:
    """A minimal PNG encoder: uint8 or uint16, (H, W) grey or (H, W, C) with C = 2 (grey+alpha), 3, 4."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}[pixels.dtype]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = pixels.astype(">u2" if depth == 16 else np.uint8)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _ramp(shape, dtype, seed=0) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(0, info.max + 1, size=shape, dtype=np.int64).astype(dtype)


# --------------------------------------------------------------------------------------------------------
# sRGB
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded, linear",
    [
        (0.0, 0.0),
        (1.0, 1.0),
        (0.04045, 0.04045 / 12.92),  # the end of the linear segment
        (0.5, 0.21404114048223255),
        (0.2, 0.033104766570885055),
        (0.8, 0.6038273388553378),
    ],
)
def test_srgb_known_values(encoded, linear):
    assert srgb_to_linear(encoded) == pytest.approx(linear, rel=1e-12)
    assert linear_to_srgb(linear) == pytest.approx(encoded, rel=1e-6, abs=1e-12)


def test_srgb_round_trip():
    x = np.linspace(0.0, 1.0, 10001)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(x)), x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, rtol=0, atol=1e-12)


def test_srgb_is_continuous_and_monotonic():
    x = np.linspace(0.0, 1.0, 100001)
    y = srgb_to_linear(x)
    assert np.all(np.diff(y) > 0)
    knee = 0.04045
    # IEC 61966-2-1's two pieces meet to within 3e-9 (the standard's constants are rounded).
    assert srgb_to_linear(knee - 1e-12) == pytest.approx(srgb_to_linear(knee + 1e-12), abs=1e-8)


def test_linear_to_srgb_clamps():
    assert linear_to_srgb(-0.5) == 0.0
    assert linear_to_srgb(7.0) == pytest.approx(1.0, abs=1e-12)
    assert linear_to_srgb(7.0) == linear_to_srgb(1.0)


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------


def _expected(pixels: np.ndarray, scale: float) -> np.ndarray:
    rgb = pixels.astype(np.float64) / scale
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    rgb = np.repeat(rgb[..., :1], 3, axis=2) if rgb.shape[2] in (1, 2) else rgb[..., :3]
    return srgb_to_linear(rgb)


@pytest.mark.parametrize(
    "shape",
    [(6, 5), (6, 5, 2), (6, 5, 3), (6, 5, 4)],
    ids=["grey", "grey+alpha", "rgb", "rgba"],
)
def test_read_8bit_png(tmp_path, shape):
    pixels = _ramp(shape, np.uint8)
    path = tmp_path / "image.png"
    iio.imwrite(path, pixels)
    ref = read_image(path)
    assert isinstance(ref, Reference)
    assert ref.path == str(path)
    assert ref.linear.shape == (6, 5, 3) and ref.linear.dtype == np.float32
    assert (ref.width, ref.height) == (5, 6)
    assert ref.low_dynamic_range
    np.testing.assert_allclose(ref.linear, _expected(pixels, 255.0), rtol=1e-6, atol=1e-7)


def test_alpha_is_ignored(tmp_path):
    rgb = _ramp((4, 4, 3), np.uint8)
    for alpha in (0, 255):
        path = tmp_path / f"alpha{alpha}.png"
        iio.imwrite(path, np.concatenate([rgb, np.full((4, 4, 1), alpha, np.uint8)], axis=2))
        np.testing.assert_allclose(read_image(path).linear, _expected(rgb, 255.0), rtol=1e-6, atol=1e-7)


def test_read_16bit_grey_png(tmp_path):
    pixels = _ramp((6, 5), np.uint16)
    path = tmp_path / "grey16.png"
    iio.imwrite(path, pixels)
    ref = read_image(path)
    assert ref.low_dynamic_range
    np.testing.assert_allclose(ref.linear, _expected(pixels, 65535.0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("channels", [2, 3, 4], ids=["grey+alpha", "rgb", "rgba"])
def test_read_16bit_colour_png(tmp_path, channels):
    pixels = _ramp((6, 5, channels), np.uint16)
    path = tmp_path / "colour16.png"
    write_png(path, pixels)
    ref = read_image(path)
    np.testing.assert_allclose(ref.linear, _expected(pixels, 65535.0), rtol=1e-5, atol=1e-7)


def test_minimal_png_encoder_writes_what_imageio_reads(tmp_path):
    """The helper above is right (8-bit RGB, which imageio reads faithfully)."""
    pixels = _ramp((3, 4, 3), np.uint8)
    write_png(tmp_path / "x.png", pixels)
    np.testing.assert_array_equal(iio.imread(tmp_path / "x.png"), pixels)


def test_read_jpeg(tmp_path):
    """A flat colour survives JPEG compression to within a code value or two."""
    colour = np.array([200, 120, 40], np.uint8)
    path = tmp_path / "flat.jpg"
    iio.imwrite(path, np.broadcast_to(colour, (16, 16, 3)).copy(), quality=95)
    ref = read_image(path)
    assert ref.linear.shape == (16, 16, 3)
    assert ref.low_dynamic_range
    decoded = linear_to_srgb(ref.linear) * 255.0
    np.testing.assert_allclose(decoded, np.broadcast_to(colour, decoded.shape), atol=3.0)


def test_read_uppercase_extension(tmp_path):
    path = tmp_path / "IMAGE.PNG"
    iio.imwrite(path, _ramp((2, 3, 3), np.uint8), extension=".png")
    assert read_image(path).linear.shape == (2, 3, 3)


def test_read_reference_checks_the_size(tmp_path):
    path = tmp_path / "ref.png"
    iio.imwrite(path, _ramp((6, 5, 3), np.uint8))
    assert read_reference(path, 5, 6).linear.shape == (6, 5, 3)
    with pytest.raises(ImageError) as info:
        read_reference(path, 64, 48)
    message = str(info.value)
    assert str(path) in message
    assert "5x6" in message and "64x48" in message
    assert info.value.file == str(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.png"
    with pytest.raises(ImageError, match="no such file") as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"this is not a PNG stream" * 10)
    with pytest.raises(ImageError, match="cannot read") as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_png(tmp_path):
    good = tmp_path / "good.png"
    iio.imwrite(good, _ramp((32, 32, 3), np.uint8))
    path = tmp_path / "truncated.png"
    path.write_bytes(good.read_bytes()[:60])
    with pytest.raises(ImageError):
        read_image(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "image.bmp"
    path.write_bytes(b"BM")
    with pytest.raises(ImageError, match="unsupported image type '.bmp'"):
        read_image(path)


# --------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------


def test_encode_8bit_clamps_and_encodes():
    linear = np.array([[[-1.0, 0.0, 0.0031308], [0.05, 1.0, 5.0]]])  # 0.05 -> sRGB 0.2474 -> 63.09
    encoded = encode_8bit(linear)
    assert encoded.dtype == np.uint8
    np.testing.assert_array_equal(encoded, [[[0, 0, 10], [63, 255, 255]]])
    # Every code value survives decoding and encoding again.
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(encode_8bit(srgb_to_linear(codes / 255.0)), codes)


def test_write_then_read_png(tmp_path):
    linear = np.random.default_rng(1).uniform(-0.2, 1.5, size=(7, 9, 3)).astype(np.float32)
    path = tmp_path / "out.png"
    write_image(path, linear)
    stored = iio.imread(path)
    assert stored.dtype == np.uint8 and stored.shape == (7, 9, 3)
    np.testing.assert_array_equal(stored, np.round(linear_to_srgb(linear) * 255.0).astype(np.uint8))
    back = read_image(path).linear
    clipped = np.clip(linear, 0.0, 1.0)
    # 8-bit sRGB quantisation: half a code value, times the slope of the decoding curve (at most 1/12.92 * 2.4-ish).
    np.testing.assert_allclose(back, clipped, atol=0.5 / 255.0 * 2.5)
    assert not list(tmp_path.glob(".tmp-*")), "the temporary file was left behind"


def test_write_jpeg(tmp_path):
    path = tmp_path / "out.jpg"
    write_image(path, np.full((8, 8, 3), 0.5, np.float32))
    assert iio.imread(path).shape == (8, 8, 3)


def test_write_errors(tmp_path):
    with pytest.raises(ImageError, match="cannot write '.exr'"):
        write_image(tmp_path / "out.exr", np.zeros((2, 2, 3)))
    with pytest.raises(OutputError, match="No such file or directory"):
        write_image(tmp_path / "missing" / "out.png", np.zeros((2, 2, 3)))
