"""The operations of an OpenAPI document as API Gateway reads them (``x-amazon-apigateway-any-method`` is ANY)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(body: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, upper-case method or ``ANY``, operation) of every HTTP operation in ``body``."""
    for path, methods in (body.get("paths") or {}).items():
        for method, operation in (methods or {}).items():
            if not isinstance(operation, dict):
                continue
            if method == "x-amazon-apigateway-any-method":
                yield str(path), "ANY", operation
            elif method in HTTP_METHODS:
                yield str(path), method.upper(), operation
