"""The layering rules of DESIGN.md 2, checked on the source.

The sans-I/O core never imports trio nor anything above it (it owns its own
errors), and the keepalive module does not know the connection class.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "trio_ws"
CORE_MODULES = sorted((PACKAGE / "_core").glob("*.py"))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(level, module) for every import statement in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_core_module_imports_nothing_above_the_core(path: Path) -> None:
    for level, module in imported_modules(path):
        assert level <= 1, f"{path.name} imports from outside the core: {module}"
        if level == 0:
            assert module.split(".")[0] not in ("trio", "trio_ws"), (
                f"{path.name} imports {module}"
            )


def test_keepalive_does_not_import_the_connection() -> None:
    modules = [module for _, module in imported_modules(PACKAGE / "_keepalive.py")]
    assert "_connection" not in modules
