"""Time formats API Gateway uses."""

from __future__ import annotations

import functools
import time
from datetime import datetime, timezone

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def clf_time(epoch_ms: int) -> str:
    """Common Log Format time, ``26/Nov/2026:10:00:00 +0000`` (locale-independent)."""
    return _clf_second(epoch_ms // 1000)


@functools.lru_cache(maxsize=4)
def _clf_second(epoch_s: int) -> str:
    """Formatted once a second: every event of that second carries the same text."""
    moment = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def iso_time(epoch_ms: int) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the @connections API answers (``connectedAt``)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def event_time(epoch_ms: int) -> str:
    """EventBridge's ``time``: ``2026-11-26T10:01:00Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
