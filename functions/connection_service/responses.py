"""The one mapping point from outcomes and exceptions to API Gateway (proxy integration) responses."""

from __future__ import annotations

import json
import logging
from typing import Any

from .errors import ServiceError, as_service_error, error_body, error_headers

log = logging.getLogger(__name__)


def ok(body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if body is not None:
        response["headers"] = {"Content-Type": "application/json"}
        response["body"] = json.dumps(body, separators=(",", ":"))
    return response


def reply_with(frame: bytes) -> dict[str, Any]:
    """A frame for the client, carried by a two-way route's response."""
    return {"statusCode": 200, "body": frame.decode()}


def failure(exc: BaseException) -> dict[str, Any]:
    """The response for an exception; unexpected ones are logged with their traceback, never returned."""
    return failure_of(as_service_error(exc))


def failure_of(error: ServiceError) -> dict[str, Any]:
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json", **error_headers(error)},
        "body": json.dumps(error_body(error), separators=(",", ":")),
    }
