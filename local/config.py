"""The gateway's settings: where it listens and the API Gateway limits it enforces."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KB = 1024


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
    max_environments: int = 8
    """Execution environments per function (Lambda's concurrency, scaled down for a laptop)."""
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
    log_level: str = "INFO"
