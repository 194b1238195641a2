from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from connection_service.settings import DEVELOPMENT_JWT_SECRET, ConfigurationError, InvalidSettings, Settings, env_name

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray .env or shell variable decides these tests."""
    monkeypatch.chdir("/")
    names = {name for field in FIELDS for name in (field, env_name(field).lower())}
    for variable in list(os.environ):
        if variable.lower() in names:
            monkeypatch.delenv(variable)


FIELDS = [spec.name for spec in dataclasses.fields(Settings)]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(), flags=re.MULTILINE))

    assert {env_name(field) for field in FIELDS} <= documented


def test_env_example_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {k: v for k, v in dotenv_values(EXAMPLE).items() if v is not None}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir("/")

    settings = Settings(jwt_secret="s" * 32, internal_service_key="k")

    assert settings.port == 3105 and settings.jwt_algorithms == ["HS256"]
    assert settings.allowed_origins == ["http://localhost:3000"]


def test_missing_secrets_outside_local_mode_are_a_startup_error() -> None:
    with pytest.raises(ConfigurationError, match=r"JWT_SECRET.*INTERNAL_SERVICE_KEY"):
        Settings(local=False).require_secrets()


def test_local_mode_uses_announced_development_defaults(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(local=True)

    settings.require_secrets()
    assert settings.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
    assert "LOCAL DEVELOPMENT" in caplog.text


def test_secrets_never_appear_in_the_settings_repr() -> None:
    assert "super-secret-value" not in repr(Settings(jwt_secret="super-secret-value", internal_service_key="x"))


# What reaches each field, and from where: arguments, then the environment, then .env in the working directory;
# names in any case, a field's alias before its name. Values are converted by each field's type.
SOURCES: list[tuple[str, dict[str, str], str | None, dict[str, Any], dict[str, Any]]] = [
    ("defaults", {}, None, {}, {"port": 3105, "local": False, "jwt_algorithms": ["HS256"]}),
    ("alias", {"AWS_SAM_LOCAL": "true"}, None, {}, {"local": True}),
    ("lower-case names", {"aws_sam_local": "1", "port": "9"}, None, {}, {"local": True, "port": 9}),
    ("field name too", {"LOCAL": "true"}, None, {}, {"local": True}),
    ("alias before name", {"LOCAL": "true", "AWS_SAM_LOCAL": "false"}, None, {}, {"local": False}),
    ("argument over environment", {"STAGE": "env", "AWS_SAM_LOCAL": "false"}, None, {"stage": "arg", "local": True},
     {"stage": "arg", "local": True}),
    ("argument by alias", {"AWS_SAM_LOCAL": "true"}, None, {"AWS_SAM_LOCAL": False}, {"local": False}),
    ("arguments in any case", {}, None, {"Port": 5, "aws_sam_local": "true"}, {"port": 5, "local": True}),
    ("unknown arguments ignored", {}, None, {"bogus": 1}, {"port": 3105}),
    ("dotenv", {}, "PORT=1\nSTAGE=from-dotenv\n", {}, {"port": 1, "stage": "from-dotenv"}),
    ("environment over dotenv", {"PORT": "2"}, "PORT=1\nSTAGE=from-dotenv\n", {}, {"port": 2, "stage": "from-dotenv"}),
    ("argument over dotenv", {}, "STAGE=from-dotenv\n", {"stage": "arg"}, {"stage": "arg"}),
    ("dotenv syntax", {}, "export PORT=7\nUNKNOWN=1\n# comment\nstage = 'q x'\nport2\n", {}, {"port": 7, "stage": "q x"}),
    ("dotenv lower case and alias", {}, "port=9\naws_sam_local=true\n", {}, {"port": 9, "local": True}),
    ("dotenv key without value", {}, "PORT\nSTAGE=\n", {}, {"port": 3105, "stage": ""}),
    ("dotenv interpolation", {"REDIS_HOST": "cache"}, "REDIS_URL=redis://${REDIS_HOST}:1\n", {},
     {"redis_url": "redis://cache:1"}),
    ("comma-separated lists", {"JWT_ALGORITHMS": " HS256, HS384 ,", "ALLOWED_ORIGINS": ""}, None, {},
     {"jwt_algorithms": ["HS256", "HS384"], "allowed_origins": []}),
    ("lists are not JSON", {"JWT_ALGORITHMS": '["HS256"]'}, None, {}, {"jwt_algorithms": ['["HS256"]']}),
    ("list argument as text", {}, None, {"jwt_algorithms": "HS256,HS512"}, {"jwt_algorithms": ["HS256", "HS512"]}),
    ("coercion", {"ALLOW_MISSING_ORIGIN": "no", "PORT": " 42 ", "UPSTREAM_TIMEOUT_S": "1"}, None, {},
     {"allow_missing_origin": False, "port": 42, "upstream_timeout_s": 1.0}),
]  # fmt: skip


@pytest.mark.parametrize(("environment", "dotenv", "arguments", "expected"), [c[1:] for c in SOURCES],
                         ids=[c[0] for c in SOURCES])  # fmt: skip
def test_where_values_come_from(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    environment: dict[str, str],
    dotenv: str | None,
    arguments: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    monkeypatch.chdir(tmp_path)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = Settings(**arguments)

    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("environment", "field"),
    [
        ({"PORT": ""}, "port"),
        ({"AUTH_MODE": "Remote"}, "auth_mode"),
        ({"JWT_ALGORITHMS": "HS256,none"}, "jwt_algorithms"),
        ({"ALLOW_MISSING_ORIGIN": "maybe"}, "allow_missing_origin"),
        ({"UPSTREAM_TIMEOUT_S": "soon"}, "upstream_timeout_s"),
        ({"REDIS_MODE": "sentinel"}, "redis_mode"),
    ],
)
def test_invalid_values_are_a_validation_error_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], field: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(InvalidSettings) as raised:
        Settings()

    assert raised.value.fields == (field,)
    assert env_name(field) in str(raised.value)


def test_every_invalid_value_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.setenv("AWS_SAM_LOCAL", "perhaps")

    with pytest.raises(
        InvalidSettings, match=r"PORT: not an integer: 'eighty'.*AWS_SAM_LOCAL: not a boolean"
    ) as raised:
        Settings()

    assert raised.value.fields == ("port", "local")


def test_a_replaced_copy_converts_its_values_and_leaves_the_original() -> None:
    settings = Settings(redis_password="first")

    copy = settings.replaced(redis_password="rotated-pw-value", port="81")

    assert copy.redis_password.get_secret_value() == "rotated-pw-value" and copy.port == 81
    assert settings.redis_password.get_secret_value() == "first" and settings.port == 3105
    assert "rotated-pw-value" not in repr(copy)
