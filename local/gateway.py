"""The gateway's shared state: configuration, the served model, the invoker, live connections."""

from __future__ import annotations

import logging
import time

from local.background_tasks import BackgroundTasks
from local.config import GatewayConfig
from local.connections import ConnectionTable
from local.faults import Faults
from local.invocation import Invoker
from local.model import AppModel, WebSocketApiSpec
from local.routing import RouteSelector

log = logging.getLogger("local")


class RateLimiter:
    """A token bucket: ``rate`` tokens per second, bursting to ``rate`` (API Gateway's connection quota)."""

    __slots__ = ("_stamp", "_tokens", "rate")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = max(rate, 1.0)
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(max(self.rate, 1.0), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Gateway:
    def __init__(self, config: GatewayConfig, model: AppModel, invoker: Invoker, stage: str) -> None:
        self.config = config
        self.model = model
        self.invoker = invoker
        self.stage = stage
        self.connections = ConnectionTable()
        self.faults = Faults(config.faults)
        self.connect_quota = RateLimiter(config.connect_rate)
        self.api: WebSocketApiSpec | None = model.websocket
        self.selector = RouteSelector(self.api.route_selection_expression if self.api else "$request.body.action")
        self.route_keys = frozenset(self.api.routes) if self.api else frozenset[str]()
        self.background = BackgroundTasks()
        self.domain_name: str | None = None
        """``requestContext.domainName`` of WebSocket events: the TLS listener's ``host:port``, under which
        ``https://{domainName}/{stage}`` reaches @connections; ``None``: the client's ``Host``."""

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def management_endpoint(self) -> str:
        return f"{self.base_url}/{self.stage}"
