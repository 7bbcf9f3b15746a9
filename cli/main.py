"""The ``raydiff`` command: one Typer app with the ``render``, ``fit``, ``gradcheck`` and ``recover`` commands."""

from __future__ import annotations

from typing import Annotated

from .startup import interrupt_after_imports, interrupt_is_one_line

with interrupt_after_imports():  # Ctrl-C during these imports (seconds, for Taichi) is one line too
    import typer

    import raydiff

    from .fit import fit
    from .gradcheck import gradcheck
    from .recover import recover
    from .render import render

app = typer.Typer(
    name="raydiff",
    help="A differentiable ray tracer: render scenes, and fit their lights and materials to a picture.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"raydiff {raydiff.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A differentiable ray tracer: render scenes, and fit their lights and materials to a picture."""


app.command("render")(render)
app.command("fit")(fit)
app.command("gradcheck")(gradcheck)
app.command("recover")(recover)


if __name__ == "__main__":  # python -m raydiff_cli.main
    with interrupt_is_one_line():
        app()
