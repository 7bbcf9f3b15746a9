"""The import rules of docs/architecture.md, checked on the source: the folders are the data flow's stages.

Each stage may import only the stages before it (and the shared ``errors``/``backend`` modules), and the
stages that describe or report (``scene``, ``io``, ``run``) never import Taichi, so they can be used and
tested without a device. The CLI never reaches into the device-side stages.
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# stage -> the raydiff stages (first component after ``raydiff.``) it may import, besides itself
ALLOWED = {
    "errors": set(),
    "frontend": set(),
    "backend": {"errors", "frontend"},
    "io": {"errors"},
    "scene": {"errors", "io"},
    "device": {"errors", "scene"},
    "kernels": {"errors", "backend", "scene", "device"},
    "optim": {"errors", "backend", "scene", "device", "kernels", "io"},
    "run": {"errors", "scene", "io"},
}
NO_TAICHI = {"errors", "io", "scene", "run"}
CLI_FORBIDDEN = {"device", "kernels"}


def _modules(folder: str):
    for base, _, files in os.walk(os.path.join(ROOT, folder)):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(base, name)


def _stage(path: str) -> str:
    rel = os.path.relpath(path, os.path.join(ROOT, "raydiff")).split(os.sep)
    return rel[0][:-3] if len(rel) == 1 else rel[0]


def _runtime_nodes(tree):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(path: str) -> list[str]:
    """Absolute dotted names of everything ``path`` imports (relative imports resolved)."""
    package = os.path.relpath(os.path.dirname(path), ROOT).split(os.sep)
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names += [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return names


LIBRARY = [p for p in _modules("raydiff") if os.path.basename(p) != "__init__.py" or os.path.dirname(p) != os.path.join(ROOT, "raydiff")]


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: os.path.relpath(p, ROOT))
def test_library_stage_imports_only_earlier_stages(path):
    stage = _stage(path)
    assert stage in ALLOWED, f"{stage}: a new stage of raydiff/ needs its rules in ALLOWED and docs/architecture.md"
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "taichi":
            assert stage not in NO_TAICHI, f"{path}: raydiff.{stage} must not import Taichi"
        if parts[0] == "raydiff" and len(parts) > 1 and parts[1] != stage:
            assert parts[1] in ALLOWED[stage], f"{path}: raydiff.{stage} may not import raydiff.{parts[1]}"


@pytest.mark.parametrize("path", list(_modules("cli")), ids=lambda p: os.path.relpath(p, ROOT))
def test_cli_stays_off_the_device_stages(path):
    for name in _imports(path):
        parts = name.split(".")
        assert parts[0] != "taichi", f"{path}: the CLI must not import Taichi"
        if parts[0] == "raydiff" and len(parts) > 1:
            assert parts[1] not in CLI_FORBIDDEN, f"{path}: the CLI uses the public API, not raydiff.{parts[1]}"
