"""Identifiers in API Gateway's and Lambda's formats."""

from __future__ import annotations

import base64
import os
import uuid

_URL_UNSAFE = frozenset("+/")


def gateway_id() -> str:
    """A 16-character id in API Gateway's form: base64 of 11 bytes, ending in ``=`` (``L0SM9cOFvHcCIhw=``).

    Used for connection ids, request ids, extended request ids and message ids. Ids holding ``+`` or ``/``
    (legal base64, but awkward in a URL path) are drawn again, as API Gateway's own ids avoid them in practice.
    """
    while True:
        value = base64.b64encode(os.urandom(11)).decode("ascii")
        if not _URL_UNSAFE.intersection(value):
            return value


def lambda_request_id() -> str:
    """A Lambda invocation id (``aws_request_id``): a UUID4."""
    return str(uuid.uuid4())


def trace_id(epoch_seconds: int) -> str:
    """An X-Ray trace header value, ``Root=1-<8 hex time>-<24 hex>``."""
    return f"Root=1-{epoch_seconds:08x}-{os.urandom(12).hex()}"
