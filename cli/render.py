"""``raydiff render``: render a scene once and write the picture."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

import raydiff
from raydiff.io.images import WRITABLE

from .messages import ARCH_HELP, Arch, reported_errors


def _check_out(path: str) -> None:
    """Fail before rendering if ``path`` cannot be written (wrong extension, missing folder)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in WRITABLE:
        raise raydiff.ImageError(path, f"cannot write '{ext}' images; use one of {', '.join(WRITABLE)}")
    if os.path.isdir(path):
        raise raydiff.ImageError(path, "is a folder; expected the name of an image file to write")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise raydiff.ImageError(path, f"the folder '{os.path.dirname(path) or '.'}' does not exist")


def render(
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The scene file (YAML).", show_default=False)],
    out: Annotated[
        str,
        typer.Option("--out", "-o", metavar="OUT", help="The image to write: .png or .jpg (8-bit sRGB, clamped) or .exr (linear, float).",
                     show_default=False),
    ],
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
    """
    with reported_errors():
        loaded = raydiff.load_scene(scene)
        _check_out(out)
        backend = raydiff.init(arch.value, deterministic=deterministic)
        samples = spp if spp is not None else loaded.film.spp
        image = raydiff.render(loaded, spp=samples, seed=seed)
        raydiff.write_image(out, image)
    film = loaded.film
    typer.echo(f"wrote {out} ({film.width}x{film.height}, {samples} spp, backend: {backend.describe()})")
