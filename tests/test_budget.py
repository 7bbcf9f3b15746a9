"""The budget (raydiff.run.budget) and the limits (raydiff.scene.limits): a request the machine cannot hold
is refused at once, the formula follows the kernels' allocations, and long fits keep their history in
chunks.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from bad_inputs import NO_OPTIMIZE, SCENE, edit, render_argv, run, snapshot, write

import raydiff
from raydiff.run import budget, frames
from raydiff.scene import limits


def test_the_limits_copied_for_the_budget_are_the_kernels_own():
    from raydiff.device import hitrecord
    from raydiff.kernels import boundary, integrator
    from raydiff.optim import gradcheck
    from raydiff.scene import description

    assert limits.BATCH_SAMPLES == integrator.DEFAULT_MAX_BATCH_SAMPLES
    assert limits.BOUNDARY_SAMPLES == boundary.MAX_SAMPLES
    assert limits.MAX_TRIANGLES == hitrecord.MAX_PRIMITIVES - 1
    assert limits.MAX_LIGHTS == hitrecord.MAX_LIGHTS == description.MAX_LIGHTS
    assert budget.GRADCHECK_SPP == gradcheck.EDGE_SPP


def test_float32_and_length_problems():
    assert limits.float32_problem(3.0e38) is None and limits.float32_problem(0.0) is None
    assert "beyond" in limits.float32_problem(-1e39)
    assert "0 on the device" in limits.float32_problem(1e-40)
    assert limits.length_problem(1e18) is None and limits.length_problem(-1e-18) is None
    assert limits.length_problem(2e18) and limits.length_problem(1e-19)


def test_the_refusal_comes_in_well_under_a_second(tmp_path, monkeypatch):
    """A render that would need ~30 GB (a 16384x16384 film) is refused before anything is allocated."""
    import raydiff_cli.main  # noqa: F401 (importing the command line is not the check either)

    raydiff.init("cpu")  # nor is the backend's start-up
    monkeypatch.setenv(budget.MEMORY_VARIABLE, "2G")
    write(tmp_path, "scene.yaml", edit(NO_OPTIMIZE, "width: 16\n  height: 12", "width: 16384\n  height: 16384"))
    run(render_argv(tmp_path, "scene.yaml", "out.png", "--seed", "-1"), cwd=tmp_path)  # Typer builds its commands
    before = snapshot(tmp_path)
    start = time.perf_counter()
    outcome = run(render_argv(tmp_path), cwd=tmp_path)
    seconds = time.perf_counter() - start
    assert outcome.exit_code == 1 and "this render needs about" in outcome.stderr, outcome.stderr
    assert seconds < 1.0, seconds
    assert snapshot(tmp_path) == before


def _scene(width=16, height=12, text=SCENE):
    return raydiff.load_scene_string(edit(text, "width: 16\n  height: 12", f"width: {width}\n  height: {height}"), "s.yaml")


def _total(needs, place=None):
    return sum(n.bytes for n in needs if place is None or n.place == place)


def test_the_estimate_follows_the_pixels_not_the_samples_beyond_a_batch():
    small, large = _scene(256, 256), _scene(2048, 2048)
    device = [_total(budget.estimate(s, 4, "render"), "device") for s in (small, large)]
    # 64 times the pixels; records of 2 samples a pixel at a time instead of 4 (8M samples at most)
    assert device[1] / device[0] == pytest.approx(64 * (24 + 2 * 8) / (24 + 4 * 8))
    # beyond 8M samples the records stop growing with spp
    assert _total(budget.estimate(large, 64, "render")) == _total(budget.estimate(large, 4096, "render"))
    assert _total(budget.estimate(small, 4, "render")) < _total(budget.estimate(small, 64, "render"))


def test_a_fit_counts_its_history_frames_and_animation():
    scene = _scene()
    bare = _total(budget.estimate(scene, 1, "fit", iterations=100))
    longer = _total(budget.estimate(scene, 1, "fit", iterations=1_000_100))
    assert longer - bare == budget.HISTORY_CELL_BYTES * 1_000_000 * 5  # iteration, loss, 3 components
    framed = budget.estimate(scene, 1, "fit", iterations=1000, frame_every=1)
    thinned = budget.estimate(scene, 1, "fit", iterations=1000, frame_every=1, animation_every=10)
    assert _total(framed) > _total(thinned) > _total(budget.estimate(scene, 1, "fit", iterations=1000))


def test_the_message_names_the_need_the_memory_and_the_lever(monkeypatch):
    monkeypatch.setenv(budget.MEMORY_VARIABLE, "1G")
    scene = _scene(4096, 4096)
    with pytest.raises(raydiff.ResourceError) as caught:
        budget.check_fit(scene, raydiff.FitSettings(iterations=10), "cpu", frame_every=1)
    message = str(caught.value)
    assert message.startswith("s.yaml: this fit needs about") and "but 1.0 GB is available (RAYDIFF_MEMORY)" in message
    assert "a smaller film" in message
    monkeypatch.setenv(budget.MEMORY_VARIABLE, "64G")
    budget.check_fit(scene, raydiff.FitSettings(iterations=10), "cpu", frame_every=1)  # fits


def test_on_a_gpu_the_device_part_is_checked_against_its_memory(monkeypatch):
    monkeypatch.setattr(budget, "gpu_memory", lambda: 1 << 30)
    monkeypatch.setattr(budget, "available_memory", lambda: 1 << 40)
    monkeypatch.delenv(budget.MEMORY_VARIABLE, raising=False)
    with pytest.raises(raydiff.ResourceError, match="of cuda device memory but 1.0 GB"):
        budget.check_render(_scene(8192, 8192), "cuda")
    budget.check_render(_scene(8192, 8192), "vulkan")  # its memory cannot be asked: not checked


def test_memory_sizes_and_the_machine():
    assert budget.parse_size("8G") == 8 << 30 and budget.parse_size("512 MiB") == 512 << 20
    assert budget.parse_size("123") == 123 and budget.parse_size("lots") is None
    available = budget.available_memory()
    assert available is None or available > 0
    assert budget.format_bytes(3 << 30) == "3.0 GB" and budget.format_bytes(5 << 20) == "5 MB"


def test_a_wide_thin_film_gives_frames_an_animation_can_hold():
    """2000x1 used to give frames 1.4 million pixels wide (upscaled 240 times); now the panels fit in
    4096 pixels, shrunk by block means where the film itself is wider."""
    assert frames.panel_scale(1, 2000) == (1, 2)
    assert frames.panel_scale(12, 16) == (20, 1) and frames.panel_scale(12, 16, views=64) == (5, 1)
    assert frames.panel_scale(16384, 16384) == (1, 12)
    render = np.random.default_rng(0).uniform(0, 1, (1, 2000, 3))
    frame = frames.compose_frame(render, render * 0.5, 3, 0.1)
    assert frame.shape[1] <= frames.MAX_PANELS_WIDTH + 200 and frame.shape[0] < 200
    image = np.arange(5 * 7 * 3, dtype=np.float32).reshape(5, 7, 3)
    shrunk = frames.shrink(image, 2)
    assert shrunk.shape == (3, 4, 3)
    np.testing.assert_allclose(shrunk[0, 0], image[:2, :2].mean(axis=(0, 1)))
    np.testing.assert_allclose(shrunk[2, 3], image[4, 6])


def test_the_history_moves_to_the_host_in_chunks_and_resumes(monkeypatch):
    """With chunks of 3 rows, 7 iterations (two full chunks and a partial one) give the history the
    unchunked field gave, and a checkpoint taken mid-chunk resumes to the same rows."""
    from raydiff.optim import fit as fitting

    raydiff.init("cpu", deterministic=True)
    scene = _scene(8, 6)
    reference = raydiff.io.images.Reference("<rendered>", np.full((6, 8, 3), 0.1, np.float32), True)
    settings = raydiff.FitSettings(iterations=7, spp=1, boundary=False)
    whole = fitting.Fitter(scene, reference, settings)
    while not whole.done:
        whole.step()
    monkeypatch.setattr(fitting, "HISTORY_CHUNK", 3)
    chunked = fitting.Fitter(scene, reference, settings)
    assert chunked.history.shape[0] == 3
    for _ in range(4):
        chunked.step()
    state = chunked.checkpoint()
    while not chunked.done:
        chunked.step()
    np.testing.assert_array_equal(chunked.history_array(), whole.history_array())
    np.testing.assert_array_equal(chunked.history_array()[:, 0], np.arange(7))
    resumed = fitting.Fitter(scene, reference, settings)
    resumed.restore(state)
    while not resumed.done:
        resumed.step()
    np.testing.assert_array_equal(resumed.history_array(), whole.history_array())
