from __future__ import annotations

import re
from pathlib import Path

import pytest
from dotenv import dotenv_values

from connection_service.config import DEV_JWT_SECRET, ConfigurationError, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray .env or shell variable decides these tests."""
    monkeypatch.chdir("/")
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return (alias if isinstance(alias, str) else field).upper()


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(), flags=re.MULTILINE))

    assert {env_name(field) for field in Settings.model_fields} <= documented


def test_env_example_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {k: v for k, v in dotenv_values(EXAMPLE).items() if v is not None}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir("/")

    settings = Settings(jwt_secret="s" * 32, internal_service_key="k")  # type: ignore[arg-type]

    assert settings.port == 3105 and settings.jwt_algorithms == ["HS256"]
    assert settings.allowed_origins == ["http://localhost:3000"]


def test_missing_secrets_outside_local_mode_are_a_startup_error() -> None:
    with pytest.raises(ConfigurationError, match=r"JWT_SECRET.*INTERNAL_SERVICE_KEY"):
        Settings(local=False).require_secrets()


def test_local_mode_uses_announced_development_defaults(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(local=True)

    settings.require_secrets()
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert "LOCAL DEVELOPMENT" in caplog.text


def test_secrets_never_appear_in_the_settings_repr() -> None:
    assert "super-secret-value" not in repr(Settings(jwt_secret="super-secret-value", internal_service_key="x"))  # type: ignore[arg-type]
