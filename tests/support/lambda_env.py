"""Run the real handler modules under a given environment, as a fresh Lambda instance (cold start)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str, **replacements: str) -> dict[str, Any]:
    """A captured API Gateway event from tests/events/ (``name`` without ``.json``), with placeholder strings
    replaced; a fresh copy each time."""
    text = (EVENTS / f"{name}.json").read_text()
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    event: dict[str, Any] = json.loads(text)
    return event


def reset_cold_start() -> None:
    """Forget every cached client and setting, as a new Lambda instance would start without them."""
    from connection_service import connect, message, settings, wiring

    settings.get_settings.cache_clear()
    wiring.current.cache_clear()
    connect.service.cache_clear()
    message.service.cache_clear()


class LambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000
