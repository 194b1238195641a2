"""The packages' dependencies point one way: no import cycle in the functions' package or in local/, counting
imports inside functions and under TYPE_CHECKING, and nothing the wiring module imports imports the wiring back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "connection_service"
LOCAL = ROOT / "local"
HANDLERS = {"connect", "disconnect", "message", "broadcast"}


def imports_of(path: Path, modules: set[str], package: str = "connection_service") -> set[str]:
    """The package's modules that ``path`` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != package:
                    continue
                base = parts[1:]
            elif node.level == 1:
                base = (node.module or "").split(".") if node.module else []
            else:
                continue
            if base:
                found.add(base[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    found.add(parts[1])
    return found & modules


def import_graph(directory: Path = PACKAGE, package: str = "connection_service") -> dict[str, set[str]]:
    modules = {path.stem for path in directory.glob("*.py")}
    return {path.stem: imports_of(path, modules, package) - {path.stem} for path in directory.glob("*.py")}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def cycles(graph: dict[str, set[str]]) -> list[str]:
    return sorted(module for module in graph if module in reachable(graph, module))


def test_the_graph_sees_lazy_and_type_only_imports() -> None:
    graph = import_graph()

    assert {"fanout", "management_client", "tokens"} <= graph["wiring"]  # imported inside its methods
    assert "wiring" in graph["api"]  # under TYPE_CHECKING
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c"]


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_nothing_the_wiring_imports_imports_the_wiring() -> None:
    graph = import_graph()

    assert sorted(module for module in reachable(graph, "wiring") if "wiring" in graph[module]) == []


def test_only_handlers_and_their_helpers_import_the_wiring() -> None:
    graph = import_graph()

    importers = {module for module, imported in graph.items() if "wiring" in imported}
    assert importers <= HANDLERS | {"observe", "api", "direct_routes", "health"}


def test_the_local_gateway_has_no_import_cycle() -> None:
    graph = import_graph(LOCAL, "local")
    assert graph["server"] and graph["websocket"]  # the walk found local's own imports
    assert cycles(graph) == []
