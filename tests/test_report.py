"""Tests for raydiff.report: the self-contained HTML page of a fit."""

from __future__ import annotations

import base64
import os
from html.parser import HTMLParser

import pytest
from PIL import Image

from raydiff.errors import OutputError
from raydiff.run.report import render_report, write_report

SCENE_YAML = """camera: {position: [0, 1.6, 4.2], look_at: [0, 0.3, 0]}
film: {width: 8, height: 6}
lights:
  - {name: key, type: point, position: [0.4, 2.2, 0.1], intensity: [8, 8, 8]}  # a <b>tag</b> & more
optimize:
  lights.key.position: {lr: 0.05}
"""


class Page(HTMLParser):
    """Collects the tags, attributes and text of a page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]

    @property
    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if "id" in attrs}


def parse(html_text: str) -> Page:
    page = Page()
    page.feed(html_text)
    page.close()
    return page


def png(path, colour=(200, 30, 30), size=(12, 8)) -> str:
    Image.new("RGB", size, colour).save(path)
    return str(path)


def gif(path) -> str:
    frames = [Image.new("RGB", (12, 8), (20 * i, 40, 90)) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return str(path)


def arguments(tmp_path, **changes) -> dict:
    args = dict(
        title="three_spheres <fit> & co",
        scene_yaml=SCENE_YAML,
        settings={"iterations": 200, "lr": None, "lr_decay": 1.0, "spp": 4, "seed": 0, "loss": "mse",
                  "frame_every": 10, "nested": {"a": [1, 2]}},
        parameters=[
            {"path": "lights.key.position", "start": [0.4, 2.2, 0.1], "final": [1.001, 1.502, -0.4996],
             "truth": [1.0, 1.5, -0.5]},
            {"path": "lights.key.intensity", "start": [8, 8, 8], "final": [11.99, 11.99, 11.99], "truth": None},
            {"path": "objects.floor.albedo", "start": [0, 0.5, 0.5], "final": [0.1, 0.5, 0.4], "truth": None},
        ],
        loss_first=0.0274362,
        loss_final=0.000124853,
        images={
            "loss": png(tmp_path / "loss.png"),
            "parameters": png(tmp_path / "parameters.png", (30, 200, 30)),
            "final frame": png(tmp_path / "final.png", (30, 30, 200)),
            "animation": gif(tmp_path / "fit.gif"),
        },
        backend="cpu",
        seconds=6.9,
        iterations=200,
        notes=["reference is 8-bit: the render is clamped <before> the loss"],
    )
    args.update(changes)
    return args


def test_report_has_every_section(tmp_path):
    path = tmp_path / "report.html"
    write_report(path, **arguments(tmp_path))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    page = parse(text)
    assert {"title", "summary", "parameters", "settings", "images", "notes", "scene", "scene-yaml"} <= page.ids
    assert {"summary-table", "parameters-table", "settings-table"} <= page.ids
    body = "".join(page.text)
    for expected in ("three_spheres <fit> & co", "cpu", "200 in 6.90 s (34.5 ms/iteration)", "0.0274362",
                     "0.000124853", "220× lower", "lights.key.position", "lights.key.intensity", "lr_decay",
                     '{"a": [1, 2]}', "clamped <before> the loss", "a <b>tag</b> & more"):
        assert expected in body, expected
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_every_image_is_inline_and_nothing_is_fetched(tmp_path):
    args = arguments(tmp_path)
    page = parse(render_report(**args))
    images = page.all("img")
    assert [img["alt"] for img in images] == list(args["images"])
    for img, file in zip(images, args["images"].values()):
        media = "image/gif" if file.endswith(".gif") else "image/png"
        prefix = f"data:{media};base64,"
        assert img["src"].startswith(prefix)
        with open(file, "rb") as f:
            assert base64.b64decode(img["src"][len(prefix):]) == f.read()
    for _, attrs in page.tags:
        for name in ("src", "href"):
            if name in attrs:
                assert attrs[name].startswith("data:"), attrs[name][:40]
                assert "http" not in attrs[name][:40]
    assert not page.all("script") and "http://" not in render_report(**args).split("<body>")[1]


def test_text_is_escaped(tmp_path):
    text = render_report(**arguments(tmp_path, title="<script>alert(1)</script>",
                                     notes=['"quoted" & <b>bold</b>']))
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "&lt;b&gt;tag&lt;/b&gt;" in text  # the note and the YAML


def table_rows(html_text: str, table_id: str) -> list[list[str]]:
    """The text of each cell, row by row, of the table with that id."""

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.rows, self.cell = False, [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table" and dict(attrs).get("id") == table_id:
                self.inside = True
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag == "table":
                self.inside = False
            elif self.inside and tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(self.cell)
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Rows()
    parser.feed(html_text)
    return parser.rows


def test_parameter_changes_and_errors_against_the_truth(tmp_path):
    rows = table_rows(render_report(**arguments(tmp_path)), "parameters-table")
    assert rows[0] == ["parameter", "", "start", "final", "change", "change %", "truth", "error", "error %",
                       "distance to truth"]
    # one row per component; the name and the distance to the truth span the parameter's rows
    assert rows[1] == ["lights.key.position", "x", "0.4", "1.001", "+0.601", "+150%", "1", "+0.001", "+0.1%",
                       "1.1 → 0.002272"]
    assert rows[2] == ["y", "2.2", "1.502", "-0.698", "-31.7%", "1.5", "+0.002", "+0.133%"]
    assert rows[3] == ["z", "0.1", "-0.4996", "-0.5996", "-600%", "-0.5", "+0.0004", "+0.08%"]
    assert rows[4] == ["lights.key.intensity", "r", "8", "11.99", "+3.99", "+49.9%", "–", "–", "–", "–"]
    assert rows[7][:6] == ["objects.floor.albedo", "r", "0", "0.1", "+0.1", "n/a"]  # a zero start: no percentage
    assert len(rows) == 1 + 9


def test_no_truth_column_without_any_truth(tmp_path):
    params = [dict(p, truth=None) for p in arguments(tmp_path)["parameters"]]
    text = render_report(**arguments(tmp_path, parameters=params))
    assert table_rows(text, "parameters-table")[0] == ["parameter", "", "start", "final", "change", "change %"]
    assert "truth" not in "".join(parse(text).text)


def test_an_mp4_is_embedded_as_a_video(tmp_path):
    video = tmp_path / "fit.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    args = arguments(tmp_path)
    page = parse(render_report(**dict(args, images={**args["images"], "video": str(video)})))
    assert len(page.all("video")) == 1
    (source,) = page.all("source")
    assert source["src"].startswith("data:video/mp4;base64,") and source["type"] == "video/mp4"


def test_unusable_images_are_output_errors(tmp_path):
    with pytest.raises(OutputError, match="cannot read"):
        write_report(tmp_path / "r.html", **arguments(tmp_path, images={"gone": str(tmp_path / "gone.png")}))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(OutputError, match="cannot embed"):
        write_report(tmp_path / "r.html", **arguments(tmp_path, images={"text": str(tmp_path / "notes.txt")}))
    with pytest.raises(OutputError):
        write_report(tmp_path / "missing" / "r.html", **arguments(tmp_path))
    assert not (tmp_path / "r.html").exists()


def test_mismatched_parameter_lengths_are_refused(tmp_path):
    bad = [{"path": "lights.key.position", "start": [0, 0, 0], "final": [1, 1], "truth": None}]
    with pytest.raises(ValueError, match="components"):
        render_report(**arguments(tmp_path, parameters=bad))


def test_odd_losses_and_no_iterations_do_not_break_the_page(tmp_path):
    text = render_report(**arguments(tmp_path, loss_first=float("nan"), loss_final=0.0, iterations=0, seconds=0.0,
                                     images={}, notes=(), settings={}, parameters=[]))
    body = "".join(parse(text).text)
    assert "n/a" in body and "No images." in body and "No free parameters." in body
