"""Tests for raydiff.animation: GIF and MP4 animations of a fit's frames."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import raydiff.run.animation as animation
from raydiff.run.animation import ffmpeg_available, gif_frame_ms, select_frames, write_gif, write_mp4
from raydiff.errors import ImageError, OutputError

WIDTH, HEIGHT = 23, 17  # odd on purpose: the MP4 writer must pad to even


def make_frames(folder, n: int, size=(WIDTH, HEIGHT)) -> list[str]:
    """``n`` distinct frames: frame i is a flat grey of level 20 * i with a red column at x = i."""
    paths = []
    for i in range(n):
        pixels = np.full((size[1], size[0], 3), 20 * i, dtype=np.uint8)
        pixels[:, i % size[0]] = (255, 0, 0)
        path = os.path.join(folder, f"{10 * i:05d}.png")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("n", "every", "expected"),
    [(7, 1, [0, 1, 2, 3, 4, 5, 6]), (7, 3, [0, 3, 6]), (8, 3, [0, 3, 6, 7]), (1, 5, [0]), (3, 10, [0, 2])],
)
def test_select_frames_keeps_every_kth_and_the_last(n, every, expected):
    paths = [f"{i}.png" for i in range(n)]
    assert select_frames(paths, every) == [paths[i] for i in expected]


def test_gif_frame_times_follow_fps_in_gif_units():
    assert gif_frame_ms(10) == 100
    assert gif_frame_ms(3) == 330
    assert gif_frame_ms(100) == 20  # browsers slow anything faster down to 100 ms


def test_gif_has_the_kept_frames_loops_forever_and_times_from_fps(tmp_path):
    paths = make_frames(tmp_path, 8)
    out = tmp_path / "fit.gif"
    write_gif(paths, out, fps=5, every=3)
    with Image.open(out) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 4  # 0, 3, 6 and the last, 7
        assert gif.info["loop"] == 0
        assert gif.size == (WIDTH, HEIGHT)
        durations, reds = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            rgb = np.asarray(gif.convert("RGB"))
            reds.append(int(np.flatnonzero(np.all(rgb[0] == (255, 0, 0), axis=1))[0]))
    assert durations == [200] * 4
    assert reds == [0, 3, 6, 7]  # the right frames, in order
    assert sorted(os.listdir(tmp_path))[-1] == "fit.gif" and not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_gif_of_one_frame(tmp_path):
    write_gif(make_frames(tmp_path, 1), tmp_path / "one.gif")
    with Image.open(tmp_path / "one.gif") as gif:
        assert gif.n_frames == 1


def test_gif_errors(tmp_path):
    paths = make_frames(tmp_path, 3)
    with pytest.raises(OutputError, match="no frames"):
        write_gif([], tmp_path / "a.gif")
    with pytest.raises(ImageError, match="no such file"):
        write_gif(paths + [str(tmp_path / "missing.png")], tmp_path / "a.gif")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match="cannot read"):
        write_gif([str(tmp_path / "broken.png")], tmp_path / "a.gif")
    (tmp_path / "other").mkdir()
    other = make_frames(tmp_path / "other", 1, size=(8, 8))
    with pytest.raises(ImageError, match="one size"):
        write_gif(paths + other, tmp_path / "a.gif")
    with pytest.raises(ValueError, match="fps"):
        write_gif(paths, tmp_path / "a.gif", fps=0)
    with pytest.raises(ValueError, match="every"):
        write_gif(paths, tmp_path / "a.gif", every=0)
    with pytest.raises(OutputError):
        write_gif(paths, tmp_path / "no" / "a.gif")
    assert not (tmp_path / "a.gif").exists()


def test_ffmpeg_available_is_a_bool():
    assert isinstance(ffmpeg_available(), bool)


@pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg not available: pip install 'raydiff[video]' (imageio-ffmpeg)")
def test_mp4_is_h264_yuv420p_padded_to_even_with_the_kept_frames(tmp_path):
    import imageio_ffmpeg

    paths = make_frames(tmp_path, 7)
    out = tmp_path / "fit.mp4"
    write_mp4(paths, out, fps=10, every=2)  # 0, 2, 4, 6
    data = out.read_bytes()
    assert data[4:8] == b"ftyp"
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = [np.frombuffer(f, dtype=np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for f in reader]
    assert meta["size"] == (WIDTH + 1, HEIGHT + 1)
    assert meta["codec"].startswith("h264")
    assert "yuv420p" in meta["pix_fmt"]
    assert meta["fps"] == pytest.approx(10)
    assert len(frames) == 4
    # the grey level of each frame survives the lossy round trip
    for frame, i in zip(frames, [0, 2, 4, 6]):
        assert abs(float(np.median(frame[:, -4:-1])) - 20 * i) < 8
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_mp4_without_ffmpeg_is_an_output_error_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(animation, "ffmpeg_available", lambda: False)
    with pytest.raises(OutputError, match=r"raydiff\[video\]"):
        write_mp4(make_frames(tmp_path, 2), tmp_path / "fit.mp4")
    assert not (tmp_path / "fit.mp4").exists()


def test_mp4_with_no_frames_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="no frames"):
        write_mp4([], tmp_path / "fit.mp4")
