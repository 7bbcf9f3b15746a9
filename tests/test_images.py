"""Reading and writing images, and the sRGB transfer function. No Taichi here.

Test files are written with imageio where it can (8-bit anything, 16-bit grey), with a minimal PNG
encoder below where it cannot (16-bit RGB, RGBA and grey+alpha: Pillow writes none of them), and EXR
files with the OpenEXR package directly, so that the reader is not only checked against its own writer.
"""

from __future__ import annotations

import struct
import zlib

import imageio.v3 as iio
import numpy as np
import OpenEXR
import pytest

from raydiff.errors import ImageError, OutputError
from raydiff.io.images import (
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


@pytest.mark.parametrize(
    "mode, name",
    [("CMYK", "cmyk.jpg"), ("P", "palette.png"), ("1", "bilevel.png"), ("L", "grey.jpg")],
)
def test_read_other_pillow_modes_as_their_colours(tmp_path, mode, name):
    """A CMYK JPEG is not RGBA, a palette PNG is not grey indices and a 1-bit PNG is not booleans."""
    from PIL import Image

    path = tmp_path / name
    image = Image.fromarray(_ramp((6, 5, 3), np.uint8)).convert(mode)
    image.save(path, **({"quality": 100} if name.endswith(".jpg") else {}))
    with Image.open(path) as image:
        assert image.mode == mode
        expected = np.asarray(image.convert("RGB"))
    ref = read_image(path)
    assert ref.linear.shape == (6, 5, 3)
    np.testing.assert_array_equal(encode_8bit(ref.linear), expected)


def test_read_uppercase_extension(tmp_path):
    path = tmp_path / "IMAGE.PNG"
    iio.imwrite(path, _ramp((2, 3, 3), np.uint8), extension=".png")
    assert read_image(path).linear.shape == (2, 3, 3)


# --------------------------------------------------------------------------------------------------------
# Read as viewers show it: EXIF orientation; one frame only
# --------------------------------------------------------------------------------------------------------


def _with_orientation(path, pixels: np.ndarray, orientation: int, **options) -> None:
    """Save ``pixels`` with an EXIF orientation tag (JPEG: APP1; PNG: an eXIf chunk), with Pillow."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif, **options)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("name", ["ref.jpg", "ref.png"])
def test_exif_orientation_is_applied_as_viewers_do(tmp_path, name, orientation):
    """Compared with Pillow's own ImageOps.exif_transpose of the same file; 6 and 8 swap width and height."""
    from PIL import Image, ImageOps

    path = tmp_path / name
    _with_orientation(path, _ramp((12, 16, 3), np.uint8), orientation, **({"quality": 100} if name.endswith(".jpg") else {}))
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    ref = read_image(path)
    assert ref.orientation == orientation
    assert ref.linear.shape == ((16, 12, 3) if orientation >= 5 else (12, 16, 3))
    np.testing.assert_array_equal(encode_8bit(ref.linear), expected)


def test_exif_orientation_of_a_16bit_png(tmp_path):
    from PIL import Image

    pixels = _ramp((3, 4), np.uint16)
    path = tmp_path / "deep.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # turned by 90 degrees clockwise
    Image.fromarray(pixels).save(path, exif=exif)
    ref = read_image(path, space="linear")
    np.testing.assert_allclose(ref.linear[..., 0], np.rot90(pixels, -1) / 65535.0, rtol=1e-6)


def test_the_size_is_checked_after_the_orientation(tmp_path):
    path = tmp_path / "turned.jpg"
    _with_orientation(path, _ramp((12, 16, 3), np.uint8), 6)
    assert read_reference(path, 12, 16).linear.shape == (16, 12, 3)
    with pytest.raises(ImageError) as info:
        read_reference(path, 16, 12)
    message = str(info.value)
    assert "image is 12x16 as viewers show it (stored 16x12, turned by its EXIF orientation 6)" in message
    assert "the scene's film is 16x12" in message


@pytest.mark.parametrize("name", ["anim.png", "anim.gif.png"])
def test_an_animation_is_refused_not_read_as_its_first_frame(tmp_path, name):
    from PIL import Image

    frames = [Image.fromarray(_ramp((6, 5, 3), np.uint8, seed)) for seed in range(3)]
    path = tmp_path / name
    frames[0].save(path, format="GIF" if ".gif" in name else "PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageError, match="is an animation of 3 frames; expected a single picture") as info:
        read_image(path)
    assert info.value.file == str(path)


@pytest.mark.parametrize("mode", ["LA", "RGBA", "P"])
def test_transparent_pictures_are_read_as_their_colours(tmp_path, mode):
    from PIL import Image

    image = Image.fromarray(_ramp((6, 5, 4), np.uint8)).convert(mode)
    path = tmp_path / "see-through.png"
    image.save(path, **({"transparency": 0} if mode == "P" else {}))
    with Image.open(path) as saved:
        expected = np.asarray(saved.convert("RGB"))
    np.testing.assert_array_equal(encode_8bit(read_image(path).linear), expected)


def test_a_fifo_named_like_an_image_is_refused_without_waiting(tmp_path):
    import os

    path = tmp_path / "ref.png"
    os.mkfifo(path)
    with pytest.raises(ImageError, match="is a named pipe \\(FIFO\\), not a file; expected an image file"):
        read_image(path)


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


def test_a_folder_is_not_an_image(tmp_path):
    path = tmp_path / "ref.png"
    path.mkdir()
    with pytest.raises(ImageError, match="is a folder; expected an image file"):
        read_image(path)


def test_unreadable_file(tmp_path, monkeypatch):
    """As root a file with mode 000 reads all the same, so the check is made to answer as for another user."""
    import os

    path = tmp_path / "ref.png"
    iio.imwrite(path, _ramp((2, 3, 3), np.uint8))
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(ImageError, match="cannot read the image: permission denied") as info:
        read_image(path)
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
    with pytest.raises(ImageError, match="cannot write '.bmp'"):
        write_image(tmp_path / "out.bmp", np.zeros((2, 2, 3)))
    with pytest.raises(OutputError, match="No such file or directory"):
        write_image(tmp_path / "missing" / "out.png", np.zeros((2, 2, 3)))
    with pytest.raises(OutputError, match="No such file or directory"):
        write_image(tmp_path / "missing" / "out.exr", np.zeros((2, 2, 3)))
    with pytest.raises(ImageError, match=r"expected \(height, width, 3\)"):
        write_image(tmp_path / "grey.exr", np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------------
# OpenEXR: linear, high dynamic range
# --------------------------------------------------------------------------------------------------------


def write_exr(path, channels: dict[str, np.ndarray]) -> None:
    """Write an EXR with the given channels (name -> (H, W) array of float16, float32 or uint32).

    OpenEXR 3.5 ignores a numpy array's strides (a slice such as ``rgb[..., 0]`` is written scrambled),
    so every array is made contiguous first.
    """
    channels = {name: np.ascontiguousarray(pixels) for name, pixels in channels.items()}
    with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, channels) as exr:
        exr.write(str(path))


def _hdr(shape=(6, 5, 3), seed=2) -> np.ndarray:
    """Linear values well above 1 and below 0.001, as float32."""
    return (np.random.default_rng(seed).uniform(0.0, 1.0, size=shape) ** 3 * 40.0).astype(np.float32)


def test_exr_round_trip_is_exact_and_keeps_values_above_one(tmp_path):
    linear = _hdr()
    linear[0, 0] = [1e-8, 123456.0, 0.0]
    path = tmp_path / "out.exr"
    write_image(path, linear)
    ref = read_image(path)
    assert ref.linear.dtype == np.float32 and ref.linear.shape == (6, 5, 3)
    np.testing.assert_array_equal(ref.linear, linear)  # bit for bit: no clamping, no transfer function
    assert ref.linear.max() > 1.0
    assert not ref.low_dynamic_range
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"], "the temporary file was left behind"
    with OpenEXR.File(str(path), separate_channels=True) as exr:  # what another reader sees
        channels = exr.channels()
        assert sorted(channels) == ["B", "G", "R"]
        assert all(c.pixels.dtype == np.float32 for c in channels.values())
        np.testing.assert_array_equal(channels["G"].pixels, linear[..., 1])


def test_exr_write_keeps_negative_values_and_replaces_an_existing_file(tmp_path):
    path = tmp_path / "out.exr"
    write_image(path, np.ones((2, 3, 3), np.float32))
    image = np.full((2, 3, 3), -0.25, np.float64)  # float64 in: written as float32
    write_image(path, image)
    np.testing.assert_array_equal(read_image(path).linear, image.astype(np.float32))


def test_read_half_float_exr(tmp_path):
    linear = _hdr().astype(np.float16)
    path = tmp_path / "half.exr"
    write_exr(path, {"RGB": linear})
    ref = read_image(path)
    assert ref.linear.dtype == np.float32
    np.testing.assert_array_equal(ref.linear, linear.astype(np.float32))
    assert not ref.low_dynamic_range


def test_read_exr_with_half_and_float_channels_mixed(tmp_path):
    linear = _hdr()
    path = tmp_path / "mixed.exr"
    write_exr(path, {"R": linear[..., 0], "G": linear[..., 1].astype(np.float16), "B": linear[..., 2]})
    expected = linear.copy()
    expected[..., 1] = linear[..., 1].astype(np.float16)
    np.testing.assert_array_equal(read_image(path).linear, expected)


def test_read_grey_exr(tmp_path):
    grey = _hdr((4, 7))
    path = tmp_path / "grey.exr"
    write_exr(path, {"Y": grey})
    ref = read_image(path)
    assert ref.linear.shape == (4, 7, 3)
    np.testing.assert_array_equal(ref.linear, np.repeat(grey[..., None], 3, axis=2))


def test_read_rgba_exr_ignores_alpha(tmp_path):
    rgba = _hdr((3, 4, 4))
    rgba[..., 3] = np.nan  # alpha is never looked at, not even for finiteness
    path = tmp_path / "rgba.exr"
    write_exr(path, {"RGBA": rgba})
    np.testing.assert_array_equal(read_image(path).linear, rgba[..., :3])


def test_read_reference_checks_the_size_of_an_exr(tmp_path):
    path = tmp_path / "ref.EXR"  # the extension in any case
    write_image(path, _hdr())
    assert read_reference(path, 5, 6).linear.shape == (6, 5, 3)
    with pytest.raises(ImageError, match="5x6 but the scene's film is 64x48"):
        read_reference(path, 64, 48)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_exr_with_non_finite_pixels_is_refused(tmp_path, bad):
    linear = _hdr()
    linear[2, 3, 1] = bad
    path = tmp_path / "bad.exr"
    write_exr(path, {"RGB": linear.astype(np.float16)})
    with pytest.raises(ImageError, match=r"contains NaN or infinite pixels \(1 of 30, the first at x=3, y=2\)") as info:
        read_image(path)
    assert str(info.value).startswith(f"{path}: ")


def _good_exr_bytes(tmp_path) -> bytes:
    path = tmp_path / "good.exr"
    write_image(path, _hdr((64, 64, 3)))
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize(
    "cut, reason",
    [
        (lambda data: b"", "not an EXR file"),
        (lambda data: np.random.default_rng(3).integers(0, 256, 400, dtype=np.uint8).tobytes(), "not an EXR file"),
        (lambda data: data[:40], "corrupt or not an EXR file"),  # the header cut short
        (lambda data: data[: len(data) // 2], "corrupt or not an EXR file"),  # pixels cut short
        (lambda data: data[:600] + bytes(len(data) - 600), "corrupt or not an EXR file"),  # pixels zeroed
    ],
    ids=["empty", "random-bytes", "truncated-header", "truncated-pixels", "zeroed-pixels"],
)
def test_corrupt_exr_is_one_line_naming_the_file(tmp_path, capfd, cut, reason):
    path = tmp_path / "corrupt.exr"
    path.write_bytes(cut(_good_exr_bytes(tmp_path)))
    with pytest.raises(ImageError, match=reason) as info:
        read_image(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read the image: ")
    assert "\n" not in message
    # OpenEXR's C library prints its complaints to the process's stdout and stderr; none get through.
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    "channels, fragment",
    [
        ({"Z": np.zeros((2, 2), np.float32)}, r"no R, G, B or Y channels \(found Z\)"),
        ({"diffuse.R": np.zeros((2, 2), np.float32)}, r"found diffuse\.R"),
        ({"R": np.zeros((2, 2), np.float32), "G": np.zeros((2, 2), np.float32)},
         r"has channels R and G but no B \(found G, R\); expected all of R, G and B, or Y for a grey image"),
        ({"R": np.zeros((2, 2), np.float32), "Y": np.zeros((2, 2), np.float32)}, r"has channel R but no G or B"),
        ({"R": np.zeros((2, 2), np.uint32), "G": np.zeros((2, 2), np.float32), "B": np.zeros((2, 2), np.float32)},
         "channel R holds uint32 pixels; expected half or float"),
    ],
    ids=["depth-only", "layer-only", "uint", "red-green-only", "red-and-grey"],
)
def test_exr_without_usable_colour_channels(tmp_path, channels, fragment):
    path = tmp_path / "odd.exr"
    write_exr(path, channels)
    with pytest.raises(ImageError, match=fragment):
        read_image(path)


# --------------------------------------------------------------------------------------------------------
# The reference's colour space
# --------------------------------------------------------------------------------------------------------


def test_reference_space_on_an_8bit_png(tmp_path):
    pixels = _ramp((6, 5, 3), np.uint8)
    path = tmp_path / "ref.png"
    iio.imwrite(path, pixels)
    by_convention = read_reference(path, 5, 6)
    as_srgb = read_reference(path, 5, 6, space="srgb")
    as_linear = read_reference(path, 5, 6, space="linear")
    np.testing.assert_allclose(by_convention.linear, _expected(pixels, 255.0), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(as_srgb.linear, by_convention.linear)
    np.testing.assert_allclose(as_linear.linear, pixels / 255.0, rtol=1e-6, atol=1e-7)  # scaled only
    assert all(r.low_dynamic_range for r in (by_convention, as_srgb, as_linear))  # tied to the file type


def test_reference_space_on_a_16bit_png(tmp_path):
    pixels = _ramp((6, 5, 3), np.uint16)
    path = tmp_path / "ref16.png"
    write_png(path, pixels)
    np.testing.assert_allclose(read_reference(path, 5, 6, space="linear").linear, pixels / 65535.0, rtol=1e-6)


def test_reference_space_on_an_exr(tmp_path):
    values = np.linspace(-0.01, 3.0, 6 * 5 * 3, dtype=np.float32).reshape(6, 5, 3)
    path = tmp_path / "ref.exr"
    write_image(path, values)
    by_convention = read_reference(path, 5, 6)
    as_linear = read_reference(path, 5, 6, space="linear")
    as_srgb = read_reference(path, 5, 6, space="srgb")
    np.testing.assert_array_equal(by_convention.linear, values)
    np.testing.assert_array_equal(as_linear.linear, values)
    # Decoded with the sRGB curve, not clamped: values above 1 follow its power segment.
    np.testing.assert_allclose(as_srgb.linear, srgb_to_linear(values.astype(np.float64)), rtol=1e-6)
    assert as_srgb.linear.dtype == np.float32
    assert as_srgb.linear.max() == pytest.approx(((3.0 + 0.055) / 1.055) ** 2.4, rel=1e-6)
    assert not any(r.low_dynamic_range for r in (by_convention, as_srgb, as_linear))


def test_an_exr_too_bright_to_decode_as_srgb(tmp_path):
    path = tmp_path / "bright.exr"
    write_image(path, np.full((2, 2, 3), 1e30, np.float32))
    assert read_reference(path, 2, 2).linear.max() == np.float32(1e30)
    with pytest.raises(ImageError, match="values too large to decode as sRGB"):
        read_reference(path, 2, 2, space="srgb")


@pytest.mark.parametrize("space", ["sRGB", "Linear", "", "rec709", 1])
def test_invalid_space(tmp_path, space):
    path = tmp_path / "ref.png"
    iio.imwrite(path, _ramp((6, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="space must be None, 'linear' or 'srgb'"):
        read_reference(path, 5, 6, space=space)
    with pytest.raises(ValueError, match="space must be"):  # checked before the file is even looked at
        read_reference(tmp_path / "missing.png", 5, 6, space=space)


def test_readable_and_writable_types():
    from raydiff.io.images import READABLE, WRITABLE

    assert ".exr" in READABLE and ".exr" in WRITABLE
