"""Fields every log record of an invocation carries: its route, connection id and, once known, tenant.

With Lambda's JSON log format (the template's ``LoggingConfig``) each becomes a key of every log line, beside
Lambda's own ``requestId``. Only identifiers go here, never a token or a payload.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_fields: ContextVar[dict[str, str] | None] = ContextVar("log_fields", default=None)


def bind(**fields: str) -> None:
    """Add fields to the records of the rest of this invocation."""
    _fields.set({**(_fields.get() or {}), **fields})


@contextlib.contextmanager
def scope(**fields: str) -> Iterator[None]:
    """The fields of one invocation; bound fields are forgotten when it ends."""
    token = _fields.set(dict(fields))
    try:
        yield
    finally:
        _fields.reset(token)


def install() -> None:
    """Make every log record carry the invocation's fields (once per process; the previous factory still runs)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_invocation_fields", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for name, value in (_fields.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return record

    factory.adds_invocation_fields = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
