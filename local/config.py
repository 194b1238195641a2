"""The gateway's settings: where it listens and the API Gateway limits it enforces."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

KB = 1024


def default_max_environments() -> int:
    """One environment per CPU core (2 to 8): more CPU-bound interpreters than cores add no throughput, and each
    cold start costs a few hundred milliseconds of CPU. Functions that wait on slow I/O may want more."""
    return min(8, max(2, os.cpu_count() or 2))


@dataclass(slots=True)
class GatewayConfig:
    template: Path = Path("template.yaml")
    host: str = "127.0.0.1"
    port: int = 3105
    stage: str | None = None
    """Stage served; ``None`` takes the template's WebSocket stage (``dev`` when it has none)."""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, dict[str, str]] = field(default_factory=dict)
    redis: str = "auto"
    """``auto``: REDIS_URL from the environment, else an embedded server if a function declares REDIS_URL;
    ``embedded``: always start one; ``off``: never."""
    frame_limit: int = 32 * KB
    message_limit: int = 128 * KB
    post_limit: int = 128 * KB
    idle_timeout: float = 600.0
    max_duration: float = 7200.0
    connect_rate: float = 500.0
    integration_timeout: float = 29.0
    header_timeout: float = 10.0
    """Seconds a client may take to send a request's head and body (slow clients are closed)."""
    http_idle_timeout: float = 75.0
    """Seconds an HTTP keep-alive connection may stay idle."""
    max_environments: int = field(default_factory=lambda: default_max_environments())
    """Execution environments per function (Lambda's concurrency, scaled down to the machine)."""
    environment_idle_timeout: float = 300.0
    """Seconds an environment may stay idle before it is stopped."""
    runtime_client: str = "auto"
    """``awslambdaric`` (AWS's runtime interface client), ``python`` (this package's), or ``auto``: the former
    where it is installed."""
    in_process: bool = False
    """Run handlers in the gateway's own process (threads): a debugging aid, not Lambda's model."""
    schedules: str = "on"
    """``on``: run at the template's rate; ``off``: only when triggered via the admin endpoint."""
    schedule_speed: float = 1.0
    reload: bool = False
    reload_interval: float = 1.0
    lambda_api: bool = True
    faults: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    """Host names, besides loopback ones, that may use the local-only surfaces (``*``: any); for containers."""
    log_level: str = "INFO"
    tls: bool = True
    """Also listen with TLS (certificate from a local CA in ``data_dir``)."""
    tls_port: int | None = None
    """The TLS listener's port; ``None``: the next port after ``port`` (a free one when ``port`` is 0)."""
    data_dir: Path | None = None
    """Per-user data directory (the local CA); ``None``: the platform's default (see :mod:`local.tls`)."""
    aws_resources: str = "moto"
    """``moto``: the template's tables, queues, ... served by moto's server mode; ``off``: not emulated."""
    aws_state: Path | None = None
    """File that keeps moto's state across restarts; ``None``: in memory only."""
