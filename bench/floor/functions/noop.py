"""Handlers that do nothing but answer: the connect scenario's protocol with no token check, no Redis, no logs."""

from __future__ import annotations

from typing import Any

_AUTHENTICATED = '{"event":"authenticated"}'


def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


def message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every message is answered as ``hello`` is: ``authenticated``, the route response."""
    return {"statusCode": 200, "body": _AUTHENTICATED}
