"""A fit's report: one self-contained HTML page (report.html) that can be mailed or archived on its own.

Every image (plots, the final frame, the animation) is embedded as a base64 ``data:`` URI, an MP4 as a
``<video>`` with a ``data:`` source; the CSS is inline; there is no script and no external URL. A
Content-Security-Policy in the page forbids loading anything that is not embedded, so a browser shows it
exactly as written, offline. Every piece of text is escaped with :func:`html.escape`.

The page shows: the title; a summary (backend, iterations, time, first and final loss); the run's
settings; the free parameters' start and final values with the change (absolute and %) and, where the
truth is known, the error against it; every view (camera) with its final render, its reference and their
error, named; the images in the order given; notes; and the scene's YAML.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import OutputError
from ..io.files import write_text
from ..io.images import encode_8bit
from . import frames
from .plots import component_labels

MEDIA_TYPES = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}

CSP = "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1b1b1b; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.subtitle { color: #666; margin-top: 0; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
#parameters-table tr.first td, #parameters-table tr.first th { border-top: 2px solid #bbb; }
td.num, .num { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: nowrap; }
figure { margin: 1rem 0; }
figure img, figure video { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9rem; margin-top: 0.2rem; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
.good { color: #1a7f37; } .bad { color: #b42318; }
#views-table img { image-rendering: pixelated; border: 1px solid #ddd; display: block; }
#views-table td { text-align: center; }
footer { color: #888; font-size: 0.8rem; margin-top: 2rem; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, subtitle: str, body: str) -> str:
    """A self-contained HTML page (raydiff's style, a content security policy that allows no request):
    ``title`` as its title and heading, ``subtitle`` under it, then ``body`` (HTML), then when it was
    written. The fit's report and a recovery study's use it."""
    made = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<h1 id="title">{_e(title)}</h1>
<p class="subtitle">{_e(subtitle)}</p>
{body}<footer>written {_e(made)}</footer>
</body>
</html>
"""


def _number(value: float, digits: int = 4) -> str:
    value = float(value)
    return f"{value:.{digits}g}" if math.isfinite(value) else "n/a"


def data_uri(file: str | os.PathLike) -> str:
    """The file as a base64 ``data:`` URI, its media type taken from the extension.

    Raises
    ------
    OutputError
        If the extension is not one of :data:`MEDIA_TYPES` or the file cannot be read.
    """
    file = os.fspath(file)
    media_type = MEDIA_TYPES.get(os.path.splitext(file)[1].lower())
    if media_type is None:
        raise OutputError(file, f"cannot embed this kind of file in the report; expected one of {', '.join(MEDIA_TYPES)}")
    try:
        with open(file, "rb") as f:
            payload = base64.b64encode(f.read()).decode("ascii")
    except OSError as err:
        raise OutputError(file, f"cannot read it to embed in the report: {err.strerror or err}") from None
    return f"data:{media_type};base64,{payload}"


def _setting_value(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, float):
        return _number(value, 6)
    return "–" if value is None else str(value)


def _settings_table(settings: Mapping[str, Any]) -> str:
    if not settings:
        return "<p>No settings recorded.</p>"
    rows = "".join(
        f'<tr><th scope="row">{_e(key)}</th><td class="num">{_e(_setting_value(value))}</td></tr>'
        for key, value in settings.items()
    )
    return f'<table id="settings-table"><tbody>{rows}</tbody></table>'


def _signed(value: float) -> str:
    return f"{value:+.4g}" if math.isfinite(value) else "n/a"


def _percent_of(delta: float, base: float) -> str:
    """``delta / |base|`` in percent; 'n/a' where the base is 0."""
    if base == 0 or not (math.isfinite(base) and math.isfinite(delta)):
        return "n/a"
    return f"{100.0 * delta / abs(base):+.3g}%"


def _parameters_table(parameters: Sequence[Mapping[str, Any]]) -> str:
    """One row per component; the parameter's name and its distance to the truth span its rows."""
    if not parameters:
        return "<p>No free parameters.</p>"
    any_truth = any(p.get("truth") is not None for p in parameters)
    head = ["parameter", "", "start", "final", "change", "change %"]
    if any_truth:
        head += ["truth", "error", "error %", "distance to truth"]
    rows = []
    for p in parameters:
        start = np.asarray(p["start"], dtype=np.float64).ravel()
        final = np.asarray(p["final"], dtype=np.float64).ravel()
        if start.shape != final.shape:
            raise ValueError(f"parameter '{p['path']}': start has {start.size} components, final {final.size}")
        truth = None if p.get("truth") is None else np.asarray(p["truth"], dtype=np.float64).ravel()
        if truth is not None and truth.shape != final.shape:
            raise ValueError(f"parameter '{p['path']}': truth has {truth.size} components, final {final.size}")
        n = len(final)
        labels = component_labels(str(p["path"]), n)
        for i in range(n):
            cells = []
            if i == 0:
                cells.append(f'<th scope="rowgroup" rowspan="{n}">{_e(p["path"])}</th>')
            cells += [
                f"<td>{_e(labels[i])}</td>",
                f'<td class="num">{_e(_number(start[i]))}</td>',
                f'<td class="num">{_e(_number(final[i]))}</td>',
                f'<td class="num">{_e(_signed(final[i] - start[i]))}</td>',
                f'<td class="num">{_e(_percent_of(final[i] - start[i], start[i]))}</td>',
            ]
            if any_truth and truth is None:
                cells += ['<td class="num">–</td>'] * 3 + ([f'<td class="num" rowspan="{n}">–</td>'] if i == 0 else [])
            elif any_truth:
                cells += [
                    f'<td class="num">{_e(_number(truth[i]))}</td>',
                    f'<td class="num">{_e(_signed(final[i] - truth[i]))}</td>',
                    f'<td class="num">{_e(_percent_of(final[i] - truth[i], truth[i]))}</td>',
                ]
                if i == 0:
                    before = float(np.linalg.norm(start - truth))
                    after = float(np.linalg.norm(final - truth))
                    verdict = "good" if after <= before else "bad"
                    cells.append(
                        f'<td class="num {verdict}" rowspan="{n}">{_e(_number(before))} → {_e(_number(after))}</td>'
                    )
            rows.append(f'<tr class="{"first" if i == 0 else "more"}">' + "".join(cells) + "</tr>")
    header = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    table = f'<table id="parameters-table"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    notes = ["change: final − start, and in % of |start|."]
    if any_truth:
        notes.append("error: final − truth, and in % of |truth|. distance to truth: the Euclidean distance of "
                     "the start and of the final value from the truth.")
    return f'<div class="wide">{table}</div>' + "".join(f'<p class="subtitle">{_e(n)}</p>' for n in notes)


def _summary_table(backend: str, iterations: int, seconds: float, loss_first: float, loss_final: float) -> str:
    per_iteration = f"{1000.0 * seconds / iterations:.1f} ms/iteration" if iterations else "–"
    ratio = "–"
    if math.isfinite(loss_first) and math.isfinite(loss_final) and loss_first > 0 and loss_final > 0:
        ratio = f"{loss_first / loss_final:.3g}× lower" if loss_final <= loss_first else f"{loss_final / loss_first:.3g}× higher"
    rows = [
        ("backend", backend),
        ("iterations", f"{int(iterations)} in {seconds:.2f} s ({per_iteration})"),
        ("first loss", _number(loss_first, 6)),
        ("final loss", f"{_number(loss_final, 6)} ({ratio})"),
    ]
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td class="num">{_e(v)}</td></tr>' for k, v in rows)
    return f'<table id="summary-table"><tbody>{body}</tbody></table>'


VIEW_MIN_HEIGHT = 120  # view images are shown at least this tall (whole-factor upscaling, pixelated)


def _png_uri(pixels: np.ndarray) -> str:
    """(H, W, 3) uint8 RGB as a PNG ``data:`` URI."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _views_table(views: Sequence[Mapping[str, Any]]) -> str:
    """One row per view: its name (and reference file, and weight when not 1), the final render, the
    reference and the error heat map."""
    rows = []
    for i, view in enumerate(views):
        name = str(view.get("name", f"view {i}"))
        render, reference = frames._pair(view["render"], view["reference"])
        scale = view.get("error_scale")
        if scale is None:
            scale = frames.default_error_scale(render, reference)
        heat = frames.heat_map(frames.error_map(render, reference), float(scale))
        height, width = render.shape[:2]
        k = frames.upscale_factor(height, VIEW_MIN_HEIGHT)
        size = f'width="{width * k}" height="{height * k}"'
        details = []
        if view.get("reference_file"):
            details.append(f"reference: {view['reference_file']}")
        if view.get("weight") is not None and float(view["weight"]) != 1.0:
            details.append(f"weight {_number(float(view['weight']))}")
        details.append(f"error 0 to {float(scale):.3g}")
        cells = [f'<th scope="row">{_e(name)}' + "".join(f'<br><span class="subtitle">{_e(d)}</span>' for d in details)
                 + "</th>"]
        for what, pixels in (("final render", encode_8bit(render)), ("reference", encode_8bit(reference)),
                             ("error", heat)):
            cells.append(f'<td><img src="{_e(_png_uri(pixels))}" alt="{_e(f"{name}: {what}")}" {size}></td>')
        rows.append(f'<tr id="view-{i}">' + "".join(cells) + "</tr>")
    head = "".join(f'<th scope="col">{h}</th>' for h in ("camera", "final render", "reference", "error"))
    note = ("The last iteration's render of each camera, its reference, and their error: |render − reference| "
            "of the images clamped to [0, 1], averaged over the channels (black: none; pale yellow: the scale "
            "shown or more).")
    return (f'<div class="wide"><table id="views-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            f'</tbody></table></div><p class="subtitle">{_e(note)}</p>')


def _figure(label: str, file: str, index: int) -> str:
    uri = data_uri(file)
    caption = f"<figcaption>{_e(label)}</figcaption>"
    if uri.startswith("data:video/"):
        media_type = uri[5 : uri.index(";")]
        return (
            f'<figure id="media-{index}"><video controls loop muted playsinline preload="auto">'
            f'<source src="{_e(uri)}" type="{_e(media_type)}"></video>{caption}</figure>'
        )
    return f'<figure id="media-{index}"><img src="{_e(uri)}" alt="{_e(label)}">{caption}</figure>'


def render_report(
    *,
    title: str,
    scene_yaml: str,
    settings: Mapping[str, Any],
    parameters: Sequence[Mapping[str, Any]],
    loss_first: float,
    loss_final: float,
    images: Mapping[str, str | os.PathLike],
    backend: str,
    seconds: float,
    iterations: int,
    notes: Sequence[str] = (),
    views: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report as an HTML string, without writing it.

    Parameters
    ----------
    title, scene_yaml, settings, parameters, loss_first, loss_final, images, backend, seconds, iterations, notes, views
        As :func:`write_report`.

    Returns
    -------
    str
        The whole page.

    Raises
    ------
    OutputError
        If a file in ``images`` cannot be read or is of a kind that cannot be embedded.
    ValueError
        If a parameter's start, final and truth differ in length, or a view's render and reference are
        not (height, width, 3) images of the same size.
    """
    views_html = f'<h2 id="views">Views</h2>\n{_views_table(views)}' if views else ""
    figures = "".join(_figure(str(label), os.fspath(file), i) for i, (label, file) in enumerate(images.items()))
    notes_html = ""
    if notes:
        notes_html = '<h2 id="notes">Notes</h2><ul>' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"
    return page(title, "raydiff fit report", f"""<h2 id="summary">Summary</h2>
{_summary_table(str(backend), int(iterations), float(seconds), float(loss_first), float(loss_final))}
<h2 id="parameters">Parameters</h2>
{_parameters_table(parameters)}
<h2 id="settings">Settings</h2>
{_settings_table(settings)}
{views_html}
<h2 id="images">Plots and frames</h2>
{figures or "<p>No images.</p>"}
{notes_html}
<h2 id="scene">Scene</h2>
<pre id="scene-yaml">{_e(scene_yaml)}</pre>
""")


def write_report(
    path: str | os.PathLike,
    *,
    title: str,
    scene_yaml: str,
    settings: Mapping[str, Any],
    parameters: Sequence[Mapping[str, Any]],
    loss_first: float,
    loss_final: float,
    images: Mapping[str, str | os.PathLike],
    backend: str,
    seconds: float,
    iterations: int,
    notes: Sequence[str] = (),
    views: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write a fit's report as one self-contained HTML page, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file to write; its folder must exist.
    title : str
        The page's title and heading.
    scene_yaml : str
        The scene's YAML text, shown verbatim.
    settings : mapping
        The run's settings, one table row each (nested values are shown as JSON).
    parameters : sequence of mapping
        One per free parameter: ``{"path": str, "start": list, "final": list, "truth": list or None}``.
        The table shows the change from start to final (absolute and in % of the start) and, when
        ``truth`` is given, the final error (absolute and in % of the truth) and the distance to the
        truth at the start and at the end.
    loss_first, loss_final : float
        The loss of the first and of the last iteration.
    images : mapping of str to path
        Caption -> file, shown in this order: PNG, GIF or JPEG as ``<img>``, MP4 or WebM as ``<video>``
        (plots, the final frame, the animation).
    backend : str
        The backend, as the summary describes it (``"cpu"``, ``"vulkan (auto; no cuda)"``).
    seconds : float
        Wall time of the fit.
    iterations : int
        Number of iterations.
    notes : sequence of str
        Extra remarks, listed under "Notes".
    views : sequence of mapping, optional
        One per view (camera), in order, shown under "Views" as a row of three images: ``{"name": str,
        "render": array, "reference": array or Reference, "error_scale": float or None,
        "reference_file": str, "weight": float}``. ``render`` and ``reference`` are (height, width, 3)
        linear RGB (shown clamped and sRGB-encoded); the error is :func:`raydiff.run.frames.error_map`
        as a heat map from 0 to ``error_scale`` (default: :func:`raydiff.run.frames.default_error_scale`).
        ``reference_file`` and ``weight`` (shown when not 1) are optional. No section when empty.

    Raises
    ------
    OutputError
        If a file in ``images`` cannot be read or is of a kind that cannot be embedded, or the report
        cannot be written.
    ValueError
        If a parameter's start, final and truth differ in length, or a view's images are not usable.
    """
    page = render_report(
        title=title,
        scene_yaml=scene_yaml,
        settings=settings,
        parameters=parameters,
        loss_first=loss_first,
        loss_final=loss_final,
        images=images,
        backend=backend,
        seconds=seconds,
        iterations=iterations,
        notes=notes,
        views=views,
    )
    write_text(path, page)
