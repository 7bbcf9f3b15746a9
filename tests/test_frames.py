"""Tests for raydiff.run.frames: the render | reference | error composite a fit saves for watching, one row
per view, and RunFolder.write_frame, which writes it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from raydiff.errors import OutputError
from raydiff.io.images import Reference
from raydiff.run.folder import RunFolder
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


# --- several views: one row per view -------------------------------------------------------------------------

GREEN = np.array([0, 255, 0], dtype=np.uint8)
BLUE = np.array([0, 0, 255], dtype=np.uint8)
WHITE = np.array([255, 255, 255], dtype=np.uint8)


def columns_with(frame: np.ndarray, rgb) -> np.ndarray:
    return np.flatnonzero(np.all(frame == np.asarray(rgb, dtype=np.uint8), axis=2).any(axis=0))


def test_a_list_of_one_view_is_the_single_view_frame_byte_for_byte():
    render, reference = flat(12, 16, (0.8, 0.3, 0.1)), flat(12, 16, (0.2, 0.3, 0.4))
    single = compose_frame(render, reference, 10, 3.25e-3, error_scale=0.3)
    for frame in (
        compose_frame([render], [reference], 10, 3.25e-3, error_scale=0.3),
        compose_frame((render,), (reference,), 10, 3.25e-3, error_scale=[0.3]),
        compose_frame([render], [reference], 10, 3.25e-3, error_scale=0.3, view_names=["front"]),
    ):
        np.testing.assert_array_equal(frame, single)
    np.testing.assert_array_equal(compose_frame([render], reference, 1, 0.1), compose_frame(render, reference, 1, 0.1))


@pytest.mark.parametrize("n", [2, 3])
def test_each_view_gets_its_own_row_of_three_panels_top_to_bottom(n):
    colours = [(1, 0, 0), (0, 1, 0), (0, 0, 1)][:n]
    renders = [flat(15, 20, c) for c in colours]
    references = [flat(15, 20, c) for c in colours]  # equal: the view's colour fills render and reference
    frame = compose_frame(renders, references, 3, 0.5)
    single = compose_frame(renders[0], references[0], 3, 0.5)
    k = upscale_factor(15, 240)
    assert frame.dtype == np.uint8 and frame.shape[2] == 3
    assert frame.shape[0] >= single.shape[0] + (n - 1) * 15 * k  # one panel height more per view
    assert frame.shape[1] > single.shape[1]  # the row captions' column
    row_spans = []
    for rgb in (RED, GREEN, BLUE)[:n]:
        assert count(frame, rgb) == 2 * (15 * k) * (20 * k)  # that view's render and reference, nothing else
        rows = rows_with(frame, rgb)
        assert len(rows) == 15 * k and rows.max() - rows.min() == 15 * k - 1
        row_spans.append((rows.min(), rows.max()))
    assert all(a[1] < b[0] for a, b in zip(row_spans, row_spans[1:]))  # in order, not overlapping
    # the columns line up: every view's panels sit in the same columns
    np.testing.assert_array_equal(columns_with(frame, RED), columns_with(frame, GREEN))
    # the caption strips: the column labels above the first row, the status line below the last
    assert np.any(frame[: row_spans[0][0]] != np.asarray(BACKGROUND, dtype=np.uint8))
    assert np.any(frame[row_spans[-1][1] + 1 :] != np.asarray(BACKGROUND, dtype=np.uint8))


def test_each_row_holds_its_own_views_render_and_reference():
    renders = [flat(10, 10, (1, 0, 0)), flat(10, 10, (0, 1, 0))]
    references = [flat(10, 10, (1, 1, 1)), flat(10, 10, (0, 0, 1))]
    frame = compose_frame(renders, references, 0, 0.0, min_height=40)
    red, white, green, blue = (rows_with(frame, c) for c in (RED, WHITE, GREEN, BLUE))
    np.testing.assert_array_equal(red, white)  # view 0: red render beside its white reference
    np.testing.assert_array_equal(green, blue)  # view 1: green render beside its blue reference
    assert red.max() < green.min()
    # render left of reference in each row
    assert columns_with(frame, RED).max() < columns_with(frame, WHITE).min()
    assert columns_with(frame, GREEN).max() < columns_with(frame, BLUE).min()
    # and a pixel in the middle of each panel
    y0, y1 = int(red.mean()), int(green.mean())
    x_render, x_reference = int(columns_with(frame, RED).mean()), int(columns_with(frame, WHITE).mean())
    np.testing.assert_array_equal(frame[y0, x_render], RED)
    np.testing.assert_array_equal(frame[y0, x_reference], WHITE)
    np.testing.assert_array_equal(frame[y1, x_render], GREEN)
    np.testing.assert_array_equal(frame[y1, x_reference], BLUE)


def test_view_names_caption_the_rows_and_default_to_view_i():
    renders = [flat(10, 10, (1, 0, 0)), flat(10, 10, (0, 1, 0))]
    references = [flat(10, 10, (1, 0, 0)), flat(10, 10, (0, 1, 0))]
    default = compose_frame(renders, references, 0, 0.0)
    np.testing.assert_array_equal(default, compose_frame(renders, references, 0, 0.0, view_names=["view 0", "view 1"]))
    named = compose_frame(renders, references, 0, 0.0, view_names=("a longer name", "side"))
    renamed = compose_frame(renders, references, 0, 0.0, view_names=("a longer name", "back"))
    assert named.shape == renamed.shape
    differing = np.flatnonzero(np.any(named != renamed, axis=(1, 2)))
    green_rows = rows_with(named, GREEN)
    # only the second row's caption changed: within that row, left of the panels
    assert len(differing) > 0 and green_rows.min() <= differing.min() and differing.max() <= green_rows.max()
    assert np.flatnonzero(np.any(named != renamed, axis=(0, 2))).max() < columns_with(named, GREEN).min()
    # the two rows' captions differ from each other: the left strips of the rows are not the same picture
    left = columns_with(named, RED).min()
    red_rows = rows_with(named, RED)
    assert np.any(named[red_rows, :left] != named[green_rows, :left])


def test_per_view_error_scales_colour_each_rows_heat_map():
    grey_06, grey_05 = flat(10, 10, (0.6, 0.6, 0.6)), flat(10, 10, (0.5, 0.5, 0.5))  # error 0.1 everywhere
    renders, references = [grey_06, grey_06], [grey_05, grey_05]
    lut = colormap_lut()
    k = upscale_factor(10, 240)
    frame = compose_frame(renders, references, 0, 0.0, error_scale=[0.1, 0.2])
    top, half = rows_with(frame, lut[255]), rows_with(frame, lut[128])
    assert count(frame, lut[255]) == count(frame, lut[128]) == (10 * k) ** 2
    assert top.max() < half.min()  # view 0 at full scale above view 1 at half of it
    shared = compose_frame(renders, references, 0, 0.0, error_scale=0.2)
    assert count(shared, lut[128]) == 2 * (10 * k) ** 2
    # a shared scale is one float or the same float per view: the same frame
    np.testing.assert_array_equal(shared, compose_frame(renders, references, 0, 0.0, error_scale=[0.2, 0.2]))
    # a None entry: that view's own default scale (its error, 0.1, at the top of the map)
    mixed = compose_frame(renders, references, 0, 0.0, error_scale=[None, 0.2])
    np.testing.assert_array_equal(mixed, frame)


def test_views_of_different_sizes_are_centred_in_columns_as_wide_as_the_widest():
    renders = [flat(10, 20, (1, 0, 0)), flat(20, 10, (0, 1, 0))]
    frame = compose_frame(renders, [r.copy() for r in renders], 0, 0.0, min_height=40)
    assert count(frame, RED) == 2 * (10 * 4) * (20 * 4) and count(frame, GREEN) == 2 * (20 * 2) * (10 * 2)
    red, green = columns_with(frame, RED), columns_with(frame, GREEN)
    # the narrow green render is centred under the wide red one
    assert red.min() < green.min() and green.max() < red.max()


def test_mismatched_views_are_refused_with_a_clear_message():
    a, b, c = (np.zeros((4, 4, 3)) for _ in range(3))
    with pytest.raises(ValueError, match="render has 2 view.* reference has 3"):
        compose_frame([a, b], [a, b, c], 0, 1.0)
    with pytest.raises(ValueError, match="render has 2 view.* reference has 1"):
        compose_frame([a, b], a, 0, 1.0)
    with pytest.raises(ValueError, match="view_names has 1 name.* 2 view"):
        compose_frame([a, b], [a, b], 0, 1.0, view_names=["front"])
    with pytest.raises(ValueError, match="error_scale has 3 value.* 2 view"):
        compose_frame([a, b], [a, b], 0, 1.0, error_scale=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        compose_frame([], [], 0, 1.0)
    with pytest.raises(ValueError, match="side: .*differ in size"):
        compose_frame([a, b], [a, np.zeros((4, 5, 3))], 0, 1.0, view_names=["front", "side"])
    with pytest.raises(ValueError, match="view 1: error_scale"):
        compose_frame([a, b], [a, b], 0, 1.0, error_scale=[0.1, -1.0])


def test_write_composite_frame_passes_the_view_names_on(tmp_path):
    renders = [flat(8, 8, (0.8, 0.3, 0.1)), flat(8, 8, (0.1, 0.3, 0.8))]
    references = [flat(8, 8, (0.2, 0.3, 0.4)), flat(8, 8, (0.4, 0.3, 0.2))]
    path = tmp_path / "00001.png"
    write_composite_frame(path, renders, references, 1, 0.5, error_scale=[0.3, 0.4], view_names=["a", "b"])
    with Image.open(path) as image:
        pixels = np.asarray(image)
    expected = compose_frame(renders, references, 1, 0.5, error_scale=[0.3, 0.4], view_names=["a", "b"])
    np.testing.assert_array_equal(pixels, expected)
    unnamed = compose_frame(renders, references, 1, 0.5, error_scale=[0.3, 0.4])
    assert pixels.shape != unnamed.shape or np.any(pixels != unnamed)


# --- RunFolder.write_frame -----------------------------------------------------------------------------------


def reference_of(linear: np.ndarray) -> Reference:
    return Reference(path="ref.png", linear=linear, low_dynamic_range=True)


def read_png(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_run_folder_writes_a_single_view_frame_as_before(tmp_path):
    folder = RunFolder(str(tmp_path / "run"))
    render, reference = flat(12, 16, (0.8, 0.3, 0.1)), reference_of(flat(12, 16, (0.2, 0.3, 0.4)))
    path = folder.write_frame(0, render, reference, 0.25)
    assert os.path.basename(path) == "00000.png" and folder.frame_paths() == [path]
    scale = default_error_scale(render, reference.linear)
    assert folder.error_scale == [scale]
    np.testing.assert_array_equal(read_png(path), compose_frame(render, reference.linear, 0, 0.25, error_scale=scale))


def test_run_folder_fixes_one_error_scale_per_view_at_the_first_frame(tmp_path):
    folder = RunFolder(str(tmp_path / "run"))
    references = [reference_of(flat(10, 10, (0.5, 0.5, 0.5))), reference_of(flat(10, 10, (0.25, 0.25, 0.25)))]
    first = [flat(10, 10, (1.0, 1.0, 1.0)), flat(10, 10, (0.5, 0.5, 0.5))]  # errors 0.5 and 0.25
    folder.write_frame(0, first, references, 1.0, view_names=["front", "side"])
    assert folder.error_scale == [0.5, 0.25]
    later = [flat(10, 10, (0.75, 0.75, 0.75)), flat(10, 10, (0.375, 0.375, 0.375))]  # errors 0.25, 0.125: half
    path = folder.write_frame(10, later, references, 0.5, view_names=["front", "side"])
    assert folder.error_scale == [0.5, 0.25]
    frame = read_png(path)
    expected = compose_frame(later, [r.linear for r in references], 10, 0.5, error_scale=[0.5, 0.25],
                             view_names=["front", "side"])
    np.testing.assert_array_equal(frame, expected)
    assert count(frame, colormap_lut()[128]) == 2 * (10 * upscale_factor(10, 240)) ** 2  # both at half scale
    assert len(folder.frame_paths()) == 2


def test_run_folder_refuses_mismatched_views(tmp_path):
    folder = RunFolder(str(tmp_path / "run"))
    a, b = flat(4, 4, (0.5, 0.5, 0.5)), flat(4, 4, (0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match="render has 2 view.* reference has 1"):
        folder.write_frame(0, [a, b], [reference_of(a)], 1.0)
    folder.write_frame(0, [a, b], [reference_of(a), reference_of(b)], 1.0)
    with pytest.raises(ValueError, match="the first frame had 2"):
        folder.write_frame(1, a, reference_of(a), 1.0)
