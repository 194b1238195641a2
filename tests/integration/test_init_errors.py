"""Settings are validated as a handler module is imported: through the real local gateway, a function missing a
secret outside local development fails its init with an error naming the setting, and one configured starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.testing import LocalGateway
from tests.local.test_execution import Functions
from tests.support.lambda_env import load_event

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
    Handler: outside_development.handler
Resources:
  MisconfiguredFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          INTERNAL_SERVICE_KEY: a-service-key
  ConfiguredFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          INTERNAL_SERVICE_KEY: a-service-key
          JWT_SECRET: a-jwt-secret-0123456789abcdef0123456789
"""

# The local gateway always sets AWS_SAM_LOCAL=true, which turns the development defaults on; in AWS it is unset.
OUTSIDE_DEVELOPMENT = """\
import os

os.environ.pop("AWS_SAM_LOCAL")
from connection_service.connect import handler  # noqa: E402,F401
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    app = tmp_path_factory.mktemp("init-errors")
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "src").mkdir()
    (app / "src" / "outside_development.py").write_text(OUTSIDE_DEVELOPMENT)
    env: dict[str, str | None] = {"REDIS_URL": None, "JWT_SECRET": None, "INTERNAL_SERVICE_KEY": None}
    with LocalGateway(app / "template.yaml", env=env, args=["--redis", "off", "--schedules", "off"]) as started:
        yield started


def invoke(gateway: LocalGateway, function: str) -> tuple[str | None, dict[str, Any]]:
    """A ``$connect`` without a token, through boto3's lambda client and the gateway's Invoke API."""
    event = load_event("websocket_connect")
    event["headers"].pop("Authorization", None)
    event.get("queryStringParameters", {}).pop("token", None)
    payload = Functions(gateway).invoke(function, **event)
    return payload.pop("FunctionError", None), payload


def test_a_missing_jwt_secret_fails_the_function_s_init_naming_the_setting(gateway: LocalGateway) -> None:
    mark = gateway.mark()
    error, payload = invoke(gateway, "MisconfiguredFunction")

    assert error == "Unhandled"
    assert payload["errorType"] == "ConfigurationError", payload
    assert "missing required settings: JWT_SECRET" in payload["errorMessage"]
    assert "INTERNAL_SERVICE_KEY" not in payload["errorMessage"]
    gateway.wait_for_log(r"\[MisconfiguredFunction\] init failed: ConfigurationError", since=mark)


def test_a_configured_function_starts_and_answers(gateway: LocalGateway) -> None:
    error, payload = invoke(gateway, "ConfiguredFunction")

    assert error is None and payload["statusCode"] == 401  # no token: refused by the handler, not by its init
