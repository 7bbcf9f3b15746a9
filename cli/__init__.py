"""The ``raydiff`` command line (installed as the package ``raydiff_cli``).

One module per command (:mod:`.render`, :mod:`.fit`), assembled into one Typer app in :mod:`.main`; the
console script is ``raydiff = "raydiff_cli.main:app"``. The CLI owns all printing: the library raises
:class:`raydiff.RaydiffError` and the commands turn it into one ``error: ...`` line and exit code 1.
"""
