"""``raydiff gradcheck``: the gradient a fit uses, against central finite differences, per parameter.

The check users run when a fit misbehaves, and the check this project runs on itself. Every input is
checked first (the scene, ``--param`` paths, the references' count and size, the backend): a problem is
one error line and exit code 1. Then the table (or ``--json``) goes to stdout, and the exit code is 1 if
any parameter's relative error exceeds ``--tol``, 0 otherwise.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Optional

import typer

import raydiff
from raydiff.io.images import SPACES
from raydiff.optim import gradcheck as checking
from raydiff.optim.loss import LOSSES
from raydiff.run import budget

from .fit import _check_reference_count
from .messages import ARCH_HELP, EXIT_ERROR, Arch, choices, fail, reported_errors

Loss = choices("Loss", LOSSES, "The image losses ``--loss`` accepts.")
Space = choices("Space", [space for space in SPACES if space is not None], "How a reference's pixel values are encoded.")


def _percent(x: float) -> str:
    return f"{100.0 * x:.3g}%" if math.isfinite(x) else "inf"


def _table(result: checking.GradcheckResult) -> list[str]:
    """One row per component: path (on its first row), component, ad, fd; the parameter's relative
    error and verdict on its first row."""
    rows = [("parameter", "component", "ad", "fd", "rel error", "verdict")]
    for path, check in result.params.items():
        for i, (ad, fd) in enumerate(zip(check.ad, check.fd)):
            first = i == 0
            rows.append((path if first else "", f"[{i}]", f"{ad:.6g}", f"{fd:.6g}",
                         _percent(check.rel_error) if first else "", ("ok" if check.ok else "FAIL") if first else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2, 3, 4}
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
            for row in rows]


def _header(result: checking.GradcheckResult, scene_path: str, backend) -> list[str]:
    if result.nudge is None:
        reference = ", ".join(result.references)
    else:
        nudged = "; ".join(f"{path} = [{', '.join(f'{v:.4g}' for v in value)}]" for path, value in result.nudge.items())
        reference = f"rendered with {nudged}"
    boundary = "on" if result.boundary else "off"
    return [
        f"scene       {scene_path}",
        f"backend     {backend.describe()}",
        f"samples     {result.spp} spp, seed {result.seed}, gradient from "
        + ("independent samples" if result.decorrelate else "the render's samples"),
        f"boundary    {boundary}",
        f"reference   {reference}",
        f"loss        {result.loss} {result.loss_value:.6g}",
        "",
    ]


def gradcheck(
    scene: Annotated[str, typer.Argument(metavar="SCENE", help="The scene (YAML).", show_default=False)],
    references: Annotated[Optional[list[str]], typer.Argument(
        metavar="[REF]...", help="Pictures to compare with (PNG, JPEG or EXR, the film's size), one per camera in "
                                 "the order of the scene's cameras; none: rendered from the scene with the checked "
                                 "parameters nudged.", show_default=False)] = None,
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", metavar="PATH", help="A parameter to check, e.g. lights.key.position (repeat for more).",
        show_default="the scene's 'optimize' entries")] = None,
    spp: Annotated[Optional[int], typer.Option(
        metavar="N", min=1, help="Samples per pixel.",
        show_default=f"max({checking.DEFAULT_SPP}, film.spp); max({checking.EDGE_SPP}, film.spp) when a checked "
                     "parameter can move an outline or a shadow edge")] = None,
    eps: Annotated[Optional[float], typer.Option(
        metavar="H", help="Finite-difference step of every component.",
        show_default=f"per kind: one default learning-rate step, shortened so that no edge that matters "
                     f"moves more than {checking.EDGE_STEP_PX:g} pixel")] = None,
    tol: Annotated[float, typer.Option(
        metavar="T", help="The largest relative L2 error (over a parameter's components) that passes.")] = checking.DEFAULT_TOL,
    seed: Annotated[int, typer.Option(metavar="S", min=0, help="The render's seed (both sides of every difference).")] = 0,
    loss: Annotated[Loss, typer.Option(help="Image loss.")] = Loss(raydiff.FitSettings().loss),
    reference_space: Annotated[Optional[Space], typer.Option(
        help="How the values of every REF are encoded.", show_default="srgb for PNG/JPEG, linear for EXR")] = None,
    arch: Annotated[Arch, typer.Option(help=ARCH_HELP)] = Arch.auto,
    no_boundary: Annotated[bool, typer.Option(
        "--no-boundary", help="Leave out the boundary terms (moving shadow edges and outlines).")] = False,
    correlated: Annotated[bool, typer.Option(
        "--correlated", help="Take the gradient from the render's own samples, as fit --correlated does.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout instead of the table.")] = False,
) -> None:
    """Check the gradient of the loss against central finite differences, for every parameter of SCENE
    that its 'optimize' section frees (or that --param names).

    Prints, per component, the gradient by automatic differentiation (what fit uses) and by central
    differences with common random numbers, and per parameter the relative L2 error and a verdict. Exits
    with 1 when any parameter's error exceeds --tol.
    """
    with reported_errors():
        loaded = raydiff.load_scene(scene)
        refs = None
        if references:
            _check_reference_count(loaded, references)
            film = loaded.film
            space = reference_space.value if reference_space is not None else None
            refs = [raydiff.read_reference(path, film.width, film.height, space=space) for path in references]
        if eps is not None and not (eps > 0 and math.isfinite(eps)):
            fail(f"--eps must be a finite positive number, got {eps:g}")
        if not (tol > 0 and math.isfinite(tol)):
            fail(f"--tol must be a finite positive number, got {tol:g}")
        checking.check_params(loaded, param)
        backend = raydiff.init(arch.value)
        budget.check_gradcheck(loaded, backend.name, spp, seed, eps, not no_boundary, len(references or []))
        result = checking.gradcheck(loaded, refs, params=param, spp=spp, eps=eps, tol=tol, seed=seed,
                                    boundary=not no_boundary, decorrelate=not correlated, loss=loss.value)
    if json_out:
        typer.echo(json.dumps(result.to_json()))
    else:
        for line in _header(result, scene, backend) + _table(result):
            typer.echo(line)
        n, bad = len(result.params), len(result.failed)
        typer.echo("")
        typer.echo(f"{n - bad} of {n} parameter{'s' if n != 1 else ''} within {_percent(result.tol)}"
                   + (f"; failed: {', '.join(result.failed)}" if bad else ""))
    if not result.ok:
        raise typer.Exit(EXIT_ERROR)
