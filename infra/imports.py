"""What a handler imports, read from the source (every import statement, inside functions and under
TYPE_CHECKING too): the package's modules it reaches and the third-party top-level names they import."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Closure:
    modules: frozenset[str]  # the package's modules (file stems), the handler's own included
    third_party: frozenset[str]  # top-level names outside the package and the standard library


def _imports_of(path: Path, package: str) -> tuple[set[str], set[str]]:
    own: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".") if node.module else []
            if node.level == 0 and parts[0] != package:
                others.add(parts[0])
                continue
            rest = parts[1:] if node.level == 0 else parts
            own.update([rest[0]] if rest else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package:
                    own.update(parts[1:2])
                else:
                    others.add(parts[0])
    return own, others


def closure(package_dir: Path, module: str) -> Closure:
    """The modules of ``package_dir`` that ``module`` reaches, and the third-party names they import."""
    package = package_dir.name
    available = {path.stem for path in package_dir.glob("*.py")}
    seen: set[str] = set()
    third_party: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        own, others = _imports_of(package_dir / f"{current}.py", package)
        todo.extend(own & available)
        third_party |= others
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    return Closure(frozenset(seen), frozenset(third_party - stdlib))
