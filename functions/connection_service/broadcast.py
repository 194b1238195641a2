"""The broadcast function: the internal HTTP API (FastAPI behind Mangum), and plain Lambda Invoke."""

from __future__ import annotations

import functools
from typing import Any

from mangum import Mangum

from . import runtime
from .api import create_app
from .fanout import Broadcaster


@functools.lru_cache(maxsize=1)
def broadcaster() -> Broadcaster:
    rt = runtime.current()
    return Broadcaster(rt.registry, rt.event_log, rt.gateway, rt.clock, rt.settings.fanout_concurrency)


app = create_app(runtime.current, broadcaster)
_http = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(_http(event, context))
