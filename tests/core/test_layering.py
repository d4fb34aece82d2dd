"""The layering rules of docs/architecture.rst ("Layers"), checked on source.

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
    path = PACKAGE / "connection" / "_keepalive.py"
    modules = [module for _, module in imported_modules(path)]
    assert "_websocket" not in modules


# Layers of the package, bottom first (docs/architecture.rst): a module may
# import from its own layer or the ones below, never above.
LAYERS = [
    {"_core"},
    {"_exceptions", "_options", "_scopes", "_http_io"},
    {"connection"},
    {"server", "client", "pubsub"},
    {"__init__", "__main__", "_cli", "compat", "prometheus"},
]


def layer_of(parts: tuple[str, ...]) -> int:
    for rank, names in enumerate(LAYERS):
        if parts[0] in names:
            return rank
    raise AssertionError(f"trio_ws.{'.'.join(parts)} is in no layer: add it")


def package_modules() -> dict[tuple[str, ...], Path]:
    return {
        path.relative_to(PACKAGE).with_suffix("").parts: path
        for path in PACKAGE.rglob("*.py")
    }


def resolve(parts: tuple[str, ...], level: int, module: str) -> tuple[str, ...]:
    """The module (as parts under trio_ws) a relative import names."""
    base = list(parts[:-1])
    base = base[: len(base) - (level - 1)] if level > 1 else base
    target = tuple(base + (module.split(".") if module else []))
    return target or ("__init__",)


def internal_imports() -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """Module -> the package modules it imports (``from . import x`` too)."""
    modules = package_modules()
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for parts, path in modules.items():
        targets = graph.setdefault(parts, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "trio_ws":
                        targets.add(tuple(alias.name.split(".")[1:]) or ("__init__",))
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    module = node.module or ""
                    if module.split(".")[0] != "trio_ws":
                        continue
                    target = tuple(module.split(".")[1:]) or ("__init__",)
                else:
                    target = resolve(parts, node.level, node.module or "")
                targets.add(target)
                for alias in node.names:  # from package import module
                    if (*target, alias.name) in modules:
                        targets.add((*target, alias.name))
    return graph


def test_imports_point_down_the_layers() -> None:
    for parts, targets in internal_imports().items():
        for target in targets:
            assert layer_of(target) <= layer_of(parts), (
                f"trio_ws.{'.'.join(parts)} imports trio_ws.{'.'.join(target)}, "
                "a layer above it"
            )


def test_no_import_cycle() -> None:
    modules = package_modules()

    def normal(target: tuple[str, ...]) -> tuple[str, ...]:
        return target if target in modules else (*target, "__init__")

    graph = {
        module: {normal(t) for t in targets}
        for module, targets in internal_imports().items()
    }
    known = set(graph)
    state: dict[tuple[str, ...], int] = {}

    def visit(node: tuple[str, ...], trail: list[tuple[str, ...]]) -> None:
        state[node] = 1
        for target in graph.get(node, ()):
            if target not in known:
                continue
            if state.get(target) == 1:
                cycle = (
                    [*trail[trail.index(target) :], target]
                    if target in trail
                    else [node, target]
                )
                raise AssertionError(f"import cycle: {cycle}")
            if target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_at_most_eight_modules_directly_in_the_package() -> None:
    flat = [
        p.name
        for p in PACKAGE.glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    ]
    assert len(flat) <= 8, flat


def test_websocket_is_one_class_of_ours_over_trio() -> None:
    """Composition, not a chain of mixins (issue 19)."""
    from trio_ws import WebSocket

    ours = [c for c in WebSocket.__mro__ if c.__module__.startswith("trio_ws")]
    assert len(ours) <= 2, [c.__name__ for c in ours]
