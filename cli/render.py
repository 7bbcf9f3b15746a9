"""``raydiff render``: render a scene once and write the picture (one per camera for a scene with several).

Every target is checked before anything is rendered; with several cameras every picture is rendered, then
all are written under temporary names beside their targets and only then renamed into place, so either
every file is written or none is touched.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from typing import Annotated, Optional

import typer

import raydiff
from raydiff.errors import OutputError
from raydiff.io.files import FILE_MODE
from raydiff.io.images import WRITABLE
from raydiff.run import budget

from .messages import ARCH_HELP, Arch, reported_errors

# Characters a camera's name may not have to become part of a file name (``out_<camera>.png``).
_NOT_IN_FILE_NAMES = set('/\\:*?"<>|\0')


def _check_out(path: str) -> None:
    """Fail before rendering if ``path`` cannot be written (wrong extension, a folder, missing folder)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in WRITABLE:
        raise raydiff.ImageError(path, f"cannot write '{ext}' images; use one of {', '.join(WRITABLE)}")
    if os.path.isdir(path):
        raise raydiff.ImageError(path, "is a folder; expected the name of an image file to write")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise raydiff.ImageError(path, f"the folder '{os.path.dirname(path) or '.'}' does not exist")


def _cameras_key(scene) -> str:
    return "cameras" if scene.several_views else "camera"


def _camera_named(scene, name: str):
    """The camera ``--view`` names, or a SceneError naming the scene's cameras."""
    names = [camera.name for camera in scene.cameras]
    if name in names:
        return scene.cameras[names.index(name)]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise raydiff.SceneError(
        raydiff.Location(scene.source, _cameras_key(scene)),
        f"--view {name}: no camera named '{name}'{hint}; the scene's cameras: {', '.join(names)}",
    )


def view_path(out: str, camera_name: str) -> str:
    """The file one camera of a scene with several cameras is written to: ``out_<camera>.<ext>``."""
    stem, ext = os.path.splitext(out)
    return f"{stem}_{camera_name}{ext}"


def _targets(scene, out: str, view: str | None) -> list[tuple[int, str, str]]:
    """``(camera index, camera name, file)`` for every picture to write, each checked writable."""
    _check_out(out)
    if view is not None:
        camera = _camera_named(scene, view)
        return [(scene.cameras.index(camera), camera.name, out)]
    if not scene.several_views:
        return [(0, scene.camera.name, out)]
    targets = []
    for index, camera in enumerate(scene.cameras):
        bad = sorted(_NOT_IN_FILE_NAMES & set(camera.name))
        if bad:
            raise raydiff.SceneError(
                raydiff.Location(scene.source, f"cameras[{index}].name"),
                f"camera '{camera.name}' cannot name a file ({view_path(out, '<camera>')}): it contains "
                f"{' '.join(repr(c) for c in bad)}; rename it, or write this camera alone with --view",
            )
        path = view_path(out, camera.name)
        if os.path.isdir(path):
            raise raydiff.ImageError(path, f"is a folder; expected the name of an image file to write "
                                           f"(camera '{camera.name}' of {scene.source})")
        targets.append((index, camera.name, path))
    return targets


def _write_all(pictures: list[tuple[str, object]]) -> None:
    """Write every ``(path, image)``: each to a temporary file beside its target, then all renamed into
    place, so a failure (a full disk) leaves every target as it was."""
    staged: list[tuple[str, str]] = []
    try:
        for path, image in pictures:
            directory = os.path.dirname(os.path.abspath(path))
            base, ext = os.path.basename(path), os.path.splitext(path)[1]
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp" + ext, dir=directory)
                os.close(fd)
            except OSError as err:
                raise OutputError(path, f"cannot write: {err.strerror or err}") from None
            staged.append((tmp, path))
            raydiff.write_image(tmp, image)
            mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else FILE_MODE
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def render(
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The scene file (YAML).", show_default=False)],
    out: Annotated[
        str,
        typer.Option("--out", "-o", metavar="OUT",
                     help="The image to write: .png or .jpg (8-bit sRGB, clamped) or .exr (linear, float). "
                          "A scene with 'cameras:' writes one file per camera, OUT with '_<camera>' before "
                          "the extension (out_left.png, out_right.png), unless --view names one.",
                     show_default=False),
    ],
    view: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help="Render only the camera named NAME, into OUT as given.",
                     show_default="every camera"),
    ] = None,
    spp: Annotated[
        Optional[int],
        typer.Option(metavar="N", min=1, help="Samples per pixel.",
                     show_default="the scene's film.spp"),
    ] = None,
    seed: Annotated[int, typer.Option(metavar="S", min=0, help="Sample seed; the same seed gives the same image.")] = 0,
    arch: Annotated[Arch, typer.Option(help=ARCH_HELP)] = Arch.auto,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic", help="Bit-for-bit reproducible: the CPU backend on one thread.")] = False,
) -> None:
    """Render SCENE and write the picture to OUT.

    PNG and JPEG files get the render clamped to [0, 1] and sRGB-encoded, 8 bits per channel; EXR files get
    the linear values as they are.

    A scene with several cameras ('cameras:') gives one picture per camera: OUT with '_<camera>' before
    the extension, e.g. -o out.png writes out_left.png and out_right.png. --view NAME renders just that
    camera, into OUT as given. Every file is checked before rendering, and written only once all are
    rendered: either all are written or none.
    """
    with reported_errors():
        loaded = raydiff.load_scene(scene)
        targets = _targets(loaded, out, view)
        backend = raydiff.init(arch.value, deterministic=deterministic)
        budget.check_render(loaded, backend.name, spp, seed)
        samples = spp if spp is not None else loaded.film.spp
        if len(targets) == 1:
            images = [raydiff.render(loaded, spp=samples, seed=seed, view=targets[0][0])]
        else:
            images = raydiff.render_views(loaded, spp=samples, seed=seed)
        _write_all([(path, image) for (_, _, path), image in zip(targets, images)])
    film = loaded.film
    for _, name, path in targets:
        camera = f"camera {name}, " if loaded.several_views else ""
        typer.echo(f"wrote {path} ({camera}{film.width}x{film.height}, {samples} spp, backend: {backend.describe()})")
