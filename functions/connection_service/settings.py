"""Settings, read once from the environment (and ``.env`` when present) into one validated object.

Each field is converted by its declared type (``str``, ``int``, ``float``, ``bool``, a ``Literal``, a
comma-separated ``list[str]``, a :class:`SecretStr`). Where a value comes from, first match wins: the constructor's
arguments, then the environment, then ``.env`` in the working directory (read with python-dotenv, only when the file
exists); names in any case, a field's environment alias before its name. A function's cold start pays for every
import, which is why this is a dataclass rather than a pydantic model: pydantic-settings cost about 65 ms of init.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import os
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from .limits import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

# Development-only values, used solely when running under a local gateway (AWS_SAM_LOCAL=true).
DEVELOPMENT_JWT_SECRET = "local-development-jwt-secret-do-not-use-in-aws"
DEVELOPMENT_INTERNAL_SERVICE_KEY = "local-development-internal-service-key"


class ConfigurationError(RuntimeError):
    """Settings are missing or invalid; raised as a handler module is imported (the function's init)."""


class InvalidSettings(ConfigurationError, ValueError):
    """Values that do not convert to their field's type; ``fields`` names the fields."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.fields = tuple(problems)
        super().__init__("invalid settings: " + "; ".join(f"{env_name(f)}: {p}" for f, p in problems.items()))


class SecretStr:
    """A secret's text, which ``repr`` and ``str`` never show."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


NO_SECRET = SecretStr("")

# The secrets a function may need, by field: each is a plain value (local development) or, in AWS, the ARN of a
# Secrets Manager secret in the field's ``*_arn`` companion.
SECRET_FIELDS = ("jwt_secret", "internal_service_key", "redis_password")

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"not a boolean: {value!r}")


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value.strip() if isinstance(value, str) else typing.cast(Any, value))
    except (TypeError, ValueError):
        raise ValueError(f"not an integer: {value!r}") from None


def _to_float(value: object) -> float:
    try:
        return float(value.strip() if isinstance(value, str) else typing.cast(Any, value))
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None


def _to_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"not text: {value!r}")


def _to_list(value: object) -> list[str]:
    """Comma-separated text (never JSON), or a list of strings."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError(f"not a comma-separated list: {value!r}")


def _to_secret(value: object) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(_to_str(value))


def _one_of(choices: tuple[object, ...]) -> Callable[[object], object]:
    def convert(value: object) -> object:
        if value in choices:
            return value
        raise ValueError(f"not one of {', '.join(map(str, choices))}: {value!r}")

    return convert


def _converter(hint: object) -> Callable[[object], object]:
    if typing.get_origin(hint) is Literal:
        return _one_of(typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return _to_list
    simple: dict[object, Callable[[object], object]] = {
        str: _to_str, int: _to_int, float: _to_float, bool: _to_bool, SecretStr: _to_secret,
    }  # fmt: skip
    return simple[hint]


def _alias(env: str) -> dict[str, str]:
    return {"env": env}


@dataclasses.dataclass(init=False)
class Settings:
    service_name: str = "as-connection-service"
    stage: str = "dev"
    port: int = 3105
    local: bool = dataclasses.field(default=False, metadata=_alias("AWS_SAM_LOCAL"))

    redis_url: str = "redis://127.0.0.1:6379"
    redis_mode: Literal["standalone", "cluster"] = "standalone"
    redis_username: str = ""
    redis_password: SecretStr = NO_SECRET
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

    jwt_secret: SecretStr = NO_SECRET
    jwt_secret_arn: str = ""
    jwt_public_key: str = ""
    jwks_url: str = ""
    jwt_algorithms: list[str] = dataclasses.field(default_factory=lambda: ["HS256"])
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

    allowed_origins: list[str] = dataclasses.field(default_factory=lambda: ["http://localhost:3000"])
    allow_missing_origin: bool = True

    internal_service_key: SecretStr = NO_SECRET
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
    fanout_concurrency: int = 64

    def __init__(self, **arguments: object) -> None:
        """Read every field from ``arguments``, the environment and ``.env``. Raises :class:`InvalidSettings`
        naming each field whose value does not convert."""
        sources = _sources(arguments)
        problems: dict[str, str] = {}
        for spec in dataclasses.fields(self):
            try:
                setattr(self, spec.name, _value_of(spec, sources))
            except ValueError as exc:
                problems[spec.name] = str(exc)
        if "jwt_algorithms" not in problems and any(alg.lower() == "none" for alg in self.jwt_algorithms):
            problems["jwt_algorithms"] = "the 'none' algorithm is never accepted"
        if problems:
            raise InvalidSettings(problems)
        if self.local:
            self._development_defaults()

    def _development_defaults(self) -> None:
        jwt_given = self.jwt_secret.get_secret_value() or self.secret_arn("jwt_secret")
        if not jwt_given and not (self.jwt_public_key or self.jwks_url):
            self.jwt_secret = SecretStr(DEVELOPMENT_JWT_SECRET)
            log.warning("JWT_SECRET is not set: using the LOCAL DEVELOPMENT secret (never in AWS)")
        if not (self.internal_service_key.get_secret_value() or self.secret_arn("internal_service_key")):
            self.internal_service_key = SecretStr(DEVELOPMENT_INTERNAL_SERVICE_KEY)
            log.warning("INTERNAL_SERVICE_KEY is not set: using the LOCAL DEVELOPMENT key (never in AWS)")

    def replaced(self, **changes: object) -> Settings:
        """A copy with ``changes`` (field names), converted as the constructor would."""
        clone = copy.copy(self)
        for name, value in changes.items():
            setattr(clone, name, _converters()[name](value))
        return clone

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


_ABSENT = object()


def _sources(arguments: Mapping[str, object]) -> list[Mapping[str, object]]:
    """Where values are looked up, in order, each keyed by lower-case name."""
    sources: list[Mapping[str, object]] = [
        {name.lower(): value for name, value in arguments.items()},
        {name.lower(): value for name, value in os.environ.items()},
    ]
    if os.path.isfile(".env"):
        from dotenv import dotenv_values  # local development only: no function ships a .env

        sources.append({name.lower(): value for name, value in dotenv_values(".env").items() if value is not None})
    return sources


def _value_of(spec: dataclasses.Field[Any], sources: Iterable[Mapping[str, object]]) -> object:
    names = [spec.metadata["env"].lower(), spec.name] if "env" in spec.metadata else [spec.name]
    for source in sources:
        for name in names:
            raw = source.get(name, _ABSENT)
            if raw is not _ABSENT:
                return _converters()[spec.name](raw)
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


@functools.cache
def _converters() -> dict[str, Callable[[object], object]]:
    hints = typing.get_type_hints(Settings)
    return {spec.name: _converter(hints[spec.name]) for spec in dataclasses.fields(Settings)}


def env_name(field: str) -> str:
    """The environment variable a settings field is read from first."""
    for spec in dataclasses.fields(Settings):
        if spec.name == field:
            return str(spec.metadata.get("env", field.upper()))
    raise ValueError(f"not a setting: {field}")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read and validated once (each function checks the secrets it needs as it
    starts, see wiring.start)."""
    return Settings()
