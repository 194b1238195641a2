"""WebSocket route selection: ``RouteSelectionExpression`` evaluated against a message body."""

from __future__ import annotations

import json
import re
from collections.abc import Container
from typing import Any

_BRACED = re.compile(r"\$\{request\.body\.([^}]+)\}")
_BARE = re.compile(r"^\$request\.body\.(.+)$")


class RouteSelector:
    """Compiled once from the API's expression (``$request.body.action``, ``${request.body.a}/${request.body.b}``)."""

    __slots__ = ("_parts", "_single")

    def __init__(self, expression: str) -> None:
        bare = _BARE.match(expression.strip())
        self._single: list[str] | None = bare.group(1).split(".") if bare else None
        self._parts: list[str | list[str]] = []
        if self._single is None:
            position = 0
            for match in _BRACED.finditer(expression):
                self._parts.append(expression[position : match.start()])
                self._parts.append(match.group(1).split("."))
                position = match.end()
            self._parts.append(expression[position:])

    def select(self, body: str, route_keys: Container[str]) -> str:
        """The route key for ``body``: the selected value when it names a route, else ``$default``."""
        if not body or body[0] not in "{[":
            return "$default"
        try:
            document = json.loads(body)
            return self._key(document, route_keys)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to evaluate the expression on
            return "$default"

    def _key(self, document: Any, route_keys: Container[str]) -> str:
        if self._single is not None:
            value = _lookup(document, self._single)
            key = None if value is None else _text(value)
        else:
            pieces: list[str] = []
            for part in self._parts:
                if isinstance(part, str):
                    pieces.append(part)
                    continue
                found = _lookup(document, part)
                if found is None:
                    return "$default"
                pieces.append(_text(found))
            key = "".join(pieces)
        if key is not None and key in route_keys and not key.startswith("$"):
            return key
        return "$default"


def _lookup(document: Any, path: list[str]) -> Any:
    for name in path:
        if not isinstance(document, dict) or name not in document:
            return None
        document = document[name]
    return document


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
