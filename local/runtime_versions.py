"""The template's runtimes against the interpreter that really runs the functions."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from local.model import FunctionSpec


def interpreter_runtime(version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor)) -> str:
    """The Lambda runtime name of an interpreter version: ``python3.11``."""
    return f"python{version[0]}.{version[1]}"


def runtime_mismatches(functions: Iterable[FunctionSpec], running: str | None = None) -> list[str]:
    """One line per Python function whose template runtime is not the interpreter in use (not an error: it runs)."""
    running = running or interpreter_runtime()
    return [
        f"{spec.logical_id}: template runtime {spec.runtime}, runs on this interpreter ({running})"
        for spec in functions
        if spec.runtime.startswith("python") and spec.runtime != running
    ]
