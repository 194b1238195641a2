"""What the gateway serves, as read from a template: plain, immutable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    runtime: str
    timeout: float
    memory_size: int
    arn: str
    environment: dict[str, str] = field(default_factory=dict)
    log_format: str = "Text"
    """``LoggingConfig.LogFormat``: ``JSON`` makes the runtime write each log record as a JSON object."""
    application_log_level: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizerSpec:
    logical_id: str
    name: str
    function: str
    identity_sources: tuple[str, ...]
    """Identity sources as declared, e.g. ``route.request.header.Auth`` or ``route.request.querystring.token``."""


@dataclass(frozen=True, slots=True)
class WsRoute:
    route_key: str
    function: str | None
    """Logical id of the integrated function; ``None`` when the integration is not emulated."""
    two_way: bool = False
    authorizer: AuthorizerSpec | None = None


@dataclass(frozen=True, slots=True)
class WebSocketApiSpec:
    logical_id: str
    api_id: str
    name: str
    route_selection_expression: str
    routes: dict[str, WsRoute]
    stage_name: str | None


@dataclass(frozen=True, slots=True)
class HttpRoute:
    method: str
    """Upper-case HTTP method, or ``ANY``."""
    path: str
    """OpenAPI-style path (``/items/{id}``, ``/{proxy+}``) or ``$default``."""
    function: str
    payload_version: str
    api_id: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class RestRoute:
    """A REST API (v1) method with a Lambda proxy integration, served with payload format 1.0."""

    method: str
    """Upper-case HTTP method, or ``ANY``."""
    path: str
    """The resource path (``/items/{id}``, ``/{proxy+}``)."""
    function: str
    api_id: str
    stage: str


@dataclass(frozen=True, slots=True)
class ApiAddress:
    """One of the template's APIs, as its deployed URLs name it (``https://{api_id}.execute-api...``)."""

    api_id: str
    kind: str
    """``WEBSOCKET``, ``HTTP`` or ``REST``."""
    logical_id: str
    stages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AwsResource:
    """A resource of the template other than the API and its functions (a table, a queue, ...), properties resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    name: str
    """The local name (its declared name, else the logical id)."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    name: str
    function: str
    expression: str
    enabled: bool
    input: str | None
    rule_arn: str


@dataclass(slots=True)
class AppModel:
    functions: dict[str, FunctionSpec]
    websocket: WebSocketApiSpec | None
    http_routes: list[HttpRoute]
    schedules: list[ScheduleSpec]
    region: str
    account_id: str
    warnings: list[str] = field(default_factory=list)
    """Template features the gateway does not emulate, for the startup message."""
    rest_routes: list[RestRoute] = field(default_factory=list)
    apis: list[ApiAddress] = field(default_factory=list)
    aws_resources: list[AwsResource] = field(default_factory=list)
    """Resources a local AWS stand-in may back (see :mod:`local.aws_resources`)."""
