"""Settings, read once from the environment (and ``.env`` when present) into one validated object."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .limits import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

# Development-only values, used solely when running under a local gateway (AWS_SAM_LOCAL=true).
DEVELOPMENT_JWT_SECRET = "local-development-jwt-secret-do-not-use-in-aws"
DEVELOPMENT_INTERNAL_SERVICE_KEY = "local-development-internal-service-key"


class ConfigurationError(RuntimeError):
    """Settings are missing or invalid; raised as a handler module is imported (the function's init)."""


# The secrets a function may need, by field: each is a plain value (local development) or, in AWS, the ARN of a
# Secrets Manager secret in the field's ``*_arn`` companion.
SECRET_FIELDS = ("jwt_secret", "internal_service_key", "redis_password")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False, populate_by_name=True)

    service_name: str = "as-connection-service"
    stage: str = "dev"
    port: int = 3105
    local: bool = Field(default=False, validation_alias="AWS_SAM_LOCAL")

    redis_url: str = "redis://127.0.0.1:6379"
    redis_mode: Literal["standalone", "cluster"] = "standalone"
    redis_username: str = ""
    redis_password: SecretStr = SecretStr("")
    redis_password_arn: str = ""
    redis_tls_ca_file: str = ""
    connection_redis_db: int = 1
    event_queue_redis_db: int = 2
    redis_socket_timeout_s: float = 2.0

    websocket_api_endpoint: str = ""
    aws_region: str = ""
    aws_endpoint_url: str = ""
    aws_endpoint_url_apigatewaymanagementapi: str = ""
    localstack_hostname: str = ""

    jwt_secret: SecretStr = SecretStr("")
    jwt_secret_arn: str = ""
    jwt_public_key: str = ""
    jwks_url: str = ""
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_tenant_claim: str = "tenant_id"
    jwt_leeway_s: int = 0
    jwks_timeout_s: float = 2.0
    jwks_cache_ttl_s: float = 300.0
    jwks_refetch_interval_s: float = 30.0
    auth_mode: Literal["local", "remote"] = "local"
    ts_auth_service_url: str = "http://localhost:3301"
    ts_auth_validate_path: str = "/auth/validate"
    ts_auth_timeout_s: float = 1.5
    ts_auth_cache_ttl_s: float = 30.0

    allowed_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    allow_missing_origin: bool = True

    internal_service_key: SecretStr = SecretStr("")
    internal_service_key_arn: str = ""
    secrets_cache_ttl_s: float = 300.0
    secrets_refetch_interval_s: float = 30.0
    local_secret_arns: bool = False
    as_call_service_url: str = "http://localhost:3104"
    upstream_timeout_s: float = 3.0

    heartbeat_interval_ms: int = 30_000
    max_connection_duration_s: int = 7_200
    connection_ttl_margin_s: int = 600

    max_connections_per_tenant: int = 1_000
    max_connections_per_user: int = 20
    connect_rate_limit_per_minute: int = 60
    message_rate_limit_per_second: float = 10.0
    message_rate_limit_burst: int = 20

    event_log_max_len: int = 10_000
    event_log_retention_s: int = 86_400
    idempotency_ttl_s: int = 86_400
    max_frame_bytes: int = MAX_FRAME_BYTES
    fanout_concurrency: int = 32

    @field_validator("jwt_algorithms", "allowed_origins", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _no_none_algorithm(cls, value: list[str]) -> list[str]:
        if any(alg.lower() == "none" for alg in value):
            raise ValueError("the 'none' algorithm is never accepted")
        return value

    @model_validator(mode="after")
    def _secrets_present(self) -> Settings:
        if not self.local:
            return self
        jwt_given = self.jwt_secret.get_secret_value() or self.secret_arn("jwt_secret")
        if not jwt_given and not (self.jwt_public_key or self.jwks_url):
            self.jwt_secret = SecretStr(DEVELOPMENT_JWT_SECRET)
            log.warning("JWT_SECRET is not set: using the LOCAL DEVELOPMENT secret (never in AWS)")
        if not (self.internal_service_key.get_secret_value() or self.secret_arn("internal_service_key")):
            self.internal_service_key = SecretStr(DEVELOPMENT_INTERNAL_SERVICE_KEY)
            log.warning("INTERNAL_SERVICE_KEY is not set: using the LOCAL DEVELOPMENT key (never in AWS)")
        return self

    @property
    def connection_ttl_s(self) -> int:
        """How long a connection's state outlives silence: API Gateway's maximum duration plus a margin."""
        return self.max_connection_duration_s + self.connection_ttl_margin_s

    def secret_arn(self, field: str) -> str:
        """The ARN ``field``'s value is fetched from, or ``""``: none is set, a plain value is (it wins), or this is
        the local gateway without ``LOCAL_SECRET_ARNS`` (there the plain values and development defaults apply)."""
        if field not in SECRET_FIELDS:
            raise ValueError(f"not a secret: {field}")
        plain: SecretStr = getattr(self, field)
        if plain.get_secret_value() or (self.local and not self.local_secret_arns):
            return ""
        arn: str = getattr(self, field + "_arn")
        return arn

    def require_secrets(self, needs: Iterable[str] = ("jwt_secret", "internal_service_key")) -> None:
        """Raise :class:`ConfigurationError` when a secret in ``needs`` (the fields a function uses) has neither a
        value nor an ARN to fetch it from."""
        missing = []
        for field in needs:
            if getattr(self, field).get_secret_value() or self.secret_arn(field):
                continue
            if field == "jwt_secret":
                if not (self.jwt_public_key or self.jwks_url):
                    missing.append("JWT_SECRET (or JWT_SECRET_ARN, JWT_PUBLIC_KEY / JWKS_URL)")
            elif field == "internal_service_key":
                missing.append("INTERNAL_SERVICE_KEY (or INTERNAL_SERVICE_KEY_ARN)")
        if missing:
            raise ConfigurationError("missing required settings: " + ", ".join(missing))


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read and validated once (each function checks the secrets it needs as it
    starts, see wiring.start)."""
    return Settings()
