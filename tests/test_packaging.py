"""The installed package is the whole package: every folder of raydiff/ is listed in pyproject.toml.

``pip install .`` copies only the packages pyproject.toml names (``pip install -e .`` hides a missing one,
because it imports from the source tree), so a new subpackage left out of the list would break a plain
install. CI installs in editable mode; this test keeps the list honest.
"""

from __future__ import annotations

import os

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11 on")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _packages_on_disk() -> set[str]:
    found = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "raydiff")):
        if "__init__.py" in files:
            found.add(os.path.relpath(folder, ROOT).replace(os.sep, "."))
    return found


def test_every_subpackage_is_installed():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        config = tomllib.load(f)
    listed = set(config["tool"]["setuptools"]["packages"])
    missing = _packages_on_disk() - listed
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {sorted(missing)}"
    assert "raydiff_cli" in listed and config["tool"]["setuptools"]["package-dir"]["raydiff_cli"] == "cli"
