"""The report in a real browser: headless Chromium (Debian's chromium and chromium-driver) loads a report
made of real outputs (plots, a composite frame, a GIF and, with ffmpeg, an MP4) from a file:// URL, shows
every image and logs no error (a blocked external load or a broken data: URI would log one).

Skips, saying why, when selenium, chromium or chromedriver is missing (CI installs all three).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from raydiff.run.animation import ffmpeg_available, write_gif, write_mp4
from raydiff.run.frames import default_error_scale, write_composite_frame
from raydiff.run.plots import plot_loss, plot_parameters
from raydiff.run.report import write_report

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MISSING_HINT = "apt-get install chromium chromium-driver; pip install -e '.[test]'"

CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium driven by selenium, with a fresh profile in ``tmp_path``; skips if absent."""
    webdriver = pytest.importorskip("selenium.webdriver", reason=f"selenium is not installed ({MISSING_HINT})")
    chromium = CHROMIUM if _executable(CHROMIUM) else shutil.which("chromium")
    if not chromium:
        pytest.skip(f"chromium is not installed at {CHROMIUM} ({MISSING_HINT})")
    driver_path = CHROMEDRIVER if _executable(CHROMEDRIVER) else shutil.which("chromedriver")
    if not driver_path:
        pytest.skip(f"chromedriver is not installed at {CHROMEDRIVER} ({MISSING_HINT})")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def make_report(folder) -> tuple[str, int, bool]:
    """A report of real (tiny) outputs; returns its path, the number of images and whether it has a video."""
    frames_dir = folder / "frames"
    frames_dir.mkdir()
    h, w = 12, 16
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    reference = np.stack([x, y, np.full_like(x, 0.3)], axis=-1)
    frames, scale = [], None
    for i in range(4):
        render = reference * (1.0 + 0.5 * (3 - i) / 3)
        scale = scale or default_error_scale(render, reference)
        frame = str(frames_dir / f"{10 * i:05d}.png")
        write_composite_frame(frame, render, reference, 10 * i, 0.01 / (i + 1), error_scale=scale, min_height=48)
        frames.append(frame)
    columns = ["iteration", "loss", "lights.key.position[0]", "lights.key.position[1]", "lights.key.position[2]"]
    t = np.arange(30.0)
    history = np.column_stack([t, 0.03 * np.exp(-t / 5) + 1e-5, 1 - np.exp(-t / 5), 1.5 + 0 * t, -0.5 + np.exp(-t / 5)])
    plot_loss(columns, history, folder / "loss.png")
    plot_parameters(columns, history, folder / "parameters.png", truth={"lights.key.position": [1.0, 1.5, -0.5]})
    write_gif(frames, folder / "fit.gif", fps=5)
    images = {
        "loss": str(folder / "loss.png"),
        "parameters": str(folder / "parameters.png"),
        "final frame": frames[-1],
        "animation": str(folder / "fit.gif"),
    }
    video = ffmpeg_available()
    if video:
        write_mp4(frames, folder / "fit.mp4", fps=5)
        images["video"] = str(folder / "fit.mp4")
    path = folder / "report.html"
    write_report(
        path,
        title="browser check <&>",
        scene_yaml="film: {width: 16, height: 12}\n",
        settings={"iterations": 30, "seed": 0},
        parameters=[{"path": "lights.key.position", "start": [0, 1.5, 0.5], "final": [0.99, 1.5, -0.49],
                     "truth": [1.0, 1.5, -0.5]}],
        loss_first=0.03,
        loss_final=1.2e-5,
        images=images,
        backend="cpu",
        seconds=1.5,
        iterations=30,
        notes=["made by the browser test"],
    )
    return str(path), 4, video


def test_the_report_renders_in_chromium_with_every_image_and_no_errors(tmp_path, browser):
    path, n_images, has_video = make_report(tmp_path)
    browser.get("file://" + os.path.abspath(path))
    state = browser.execute_script(
        """
        return {
          ready: document.readyState,
          title: document.title,
          images: Array.from(document.images).map(img => ({
            alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight})),
          videos: document.querySelectorAll('video').length,
        };
        """
    )
    assert state["ready"] == "complete"
    assert state["title"] == "browser check <&>"
    assert len(state["images"]) == n_images
    for image in state["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    assert state["videos"] == (1 if has_video else 0)
    if has_video:  # the H.264 MP4 decodes: its first frame is there, at the frames' (even-padded) size
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("const v = document.querySelector('video'); return v.error || v.readyState >= 2")
        )
        video = browser.execute_script(
            "const v = document.querySelector('video'); return {error: v.error && v.error.code, width: v.videoWidth}"
        )
        assert video["error"] is None and video["width"] > 0, video
    severe = [entry for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"]
    assert not severe, severe
