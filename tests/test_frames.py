"""Tests for raydiff.frames: the render | reference | error composite a fit saves for watching."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from raydiff.errors import OutputError
from raydiff.run.frames import (
    BACKGROUND,
    colormap_lut,
    compose_frame,
    default_error_scale,
    error_map,
    heat_map,
    upscale_factor,
    write_composite_frame,
)

RED = np.array([255, 0, 0], dtype=np.uint8)


def flat(height: int, width: int, rgb) -> np.ndarray:
    return np.broadcast_to(np.asarray(rgb, dtype=np.float32), (height, width, 3)).copy()


def count(frame: np.ndarray, rgb) -> int:
    return int(np.all(frame == np.asarray(rgb, dtype=np.uint8), axis=2).sum())


def rows_with(frame: np.ndarray, rgb) -> np.ndarray:
    return np.flatnonzero(np.all(frame == np.asarray(rgb, dtype=np.uint8), axis=2).any(axis=1))


def test_the_frame_is_three_panels_of_at_least_min_height_and_uint8():
    frame = compose_frame(flat(15, 20, (1, 0, 0)), flat(15, 20, (1, 0, 0)), 3, 0.5)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    k = upscale_factor(15, 240)
    assert k == 16
    # the red render and the red reference, each upscaled to 240 x 320
    assert count(frame, RED) == 2 * (15 * k) * (20 * k)
    assert frame.shape[0] > 15 * k  # the captions add rows
    assert frame.shape[1] >= 3 * 20 * k


def test_a_film_taller_than_min_height_is_shown_at_its_own_size():
    assert upscale_factor(300, 240) == 1 and upscale_factor(240, 240) == 1 and upscale_factor(239, 240) == 2
    frame = compose_frame(flat(300, 12, (1, 0, 0)), flat(300, 12, (0, 0, 0)), 0, 1.0)
    assert count(frame, RED) == 300 * 12
    assert frame.shape[1] > 3 * 12  # narrow panels are widened to fit their labels


def test_each_pixel_becomes_a_k_by_k_block_and_the_error_peaks_there():
    render = np.zeros((6, 8, 3), dtype=np.float32)
    render[2, 5] = 1.0  # one white pixel
    frame = compose_frame(render, np.zeros_like(render), 0, 0.1, min_height=24)
    k = upscale_factor(6, 24)
    assert k == 4
    ys, xs = np.nonzero(np.all(frame == 255, axis=2))
    assert len(ys) == k * k
    assert ys.max() - ys.min() == k - 1 and xs.max() - xs.min() == k - 1
    # the error panel: that pixel at the top of the colour map (its own scale is its error), the rest at 0
    assert count(frame, colormap_lut()[255]) == k * k
    assert count(frame, colormap_lut()[0]) == (6 * 8 - 1) * k * k


def test_the_caption_strips_above_and_below_are_not_blank():
    frame = compose_frame(flat(10, 10, (1, 0, 0)), flat(10, 10, (1, 0, 0)), 7, 2.5e-4)
    panel_rows = rows_with(frame, RED)
    top, bottom = frame[: panel_rows.min()], frame[panel_rows.max() + 1 :]
    for strip in (top, bottom):
        assert strip.shape[0] >= 10
        assert np.any(np.any(strip != np.asarray(BACKGROUND, dtype=np.uint8), axis=2)), "no text drawn"


def test_the_iteration_and_loss_change_only_the_bottom_caption():
    render, reference = flat(10, 10, (1, 0, 0)), flat(10, 10, (0.5, 0.5, 0.5))
    a = compose_frame(render, reference, 1, 1e-3, error_scale=0.5)
    b = compose_frame(render, reference, 200, 1e-5, error_scale=0.5)
    assert a.shape == b.shape
    differing_rows = np.flatnonzero(np.any(a != b, axis=(1, 2)))
    assert len(differing_rows) > 0
    assert differing_rows.min() > rows_with(a, RED).max()


def test_the_error_label_names_the_scale_so_a_different_scale_changes_the_top_caption():
    render, reference = flat(10, 10, (0.6, 0.6, 0.6)), flat(10, 10, (0.5, 0.5, 0.5))
    a = compose_frame(render, reference, 0, 0.01, error_scale=0.1)
    b = compose_frame(render, reference, 0, 0.01, error_scale=0.2)
    panel_top = rows_with(a, np.round(255 * (1.055 * 0.6 ** (1 / 2.4) - 0.055))).min()
    assert np.any(a[:panel_top] != b[:panel_top])


def test_error_map_is_the_channel_mean_of_the_clamped_linear_difference():
    render = flat(2, 3, (0.5, 2.0, -1.0))
    reference = flat(2, 3, (0.25, 1.0, 0.0))
    np.testing.assert_allclose(error_map(render, reference), np.full((2, 3), 0.25 / 3))


def test_a_shared_scale_keeps_colours_comparable_across_frames():
    reference = flat(4, 4, (0.0, 0.0, 0.0))
    heat = heat_map(error_map(flat(4, 4, (0.1, 0.1, 0.1)), reference), 0.2)
    np.testing.assert_array_equal(heat[0, 0], colormap_lut()[128])  # half the scale: the middle colour
    np.testing.assert_array_equal(heat_map(np.array([[0.0, 0.2, 5.0]]), 0.2)[0], colormap_lut()[[0, 255, 255]])


def test_default_error_scale_is_a_high_percentile_and_positive():
    reference = np.zeros((10, 10, 3))
    render = reference.copy()
    render[0, 0] = 1.0  # one hot pixel in a hundred: the 99th percentile is below it
    assert 0 < default_error_scale(render, reference) < 1.0
    assert default_error_scale(reference, reference) == 1.0  # equal images: any positive scale
    render[:] = 0.3
    assert default_error_scale(render, reference) == pytest.approx(0.3)


def test_the_colour_map_is_inferno_dark_to_bright():
    lut = colormap_lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert lut[0].sum() < 30 and lut[255].sum() > 600


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="differ in size"):
        compose_frame(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)), 0, 1.0)
    with pytest.raises(ValueError, match="linear RGB"):
        compose_frame(np.zeros((4, 4)), np.zeros((4, 4)), 0, 1.0)
    with pytest.raises(ValueError, match="error_scale"):
        compose_frame(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), 0, 1.0, error_scale=0.0)


def test_a_diverged_render_still_makes_a_frame():
    render = flat(4, 4, (np.nan, np.inf, -np.inf))
    frame = compose_frame(render, np.zeros((4, 4, 3)), 9, float("nan"))
    assert frame.dtype == np.uint8


def test_a_reference_object_is_accepted():
    class Ref:
        linear = flat(4, 4, (0.2, 0.2, 0.2))

    frame = compose_frame(flat(4, 4, (0.2, 0.2, 0.2)), Ref(), 0, 0.0)
    assert frame.shape[2] == 3


def test_write_composite_frame_writes_the_png_atomically(tmp_path):
    render, reference = flat(12, 16, (0.8, 0.3, 0.1)), flat(12, 16, (0.2, 0.3, 0.4))
    path = tmp_path / "00010.png"
    write_composite_frame(path, render, reference, 10, 3.25e-3, error_scale=0.3)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        pixels = np.asarray(image)
    np.testing.assert_array_equal(pixels, compose_frame(render, reference, 10, 3.25e-3, error_scale=0.3))
    assert os.listdir(tmp_path) == ["00010.png"]


def test_write_composite_frame_into_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError):
        write_composite_frame(tmp_path / "nope" / "f.png", np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), 0, 1.0)
