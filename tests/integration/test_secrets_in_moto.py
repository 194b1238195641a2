"""The template's secrets under the local gateway: it creates them in its moto, and with ``LOCAL_SECRET_ARNS=true``
the functions fetch them from there by the ARNs the template gives them, as they do in AWS (without it, the plain
variables and development defaults apply: ``make run``'s tokens and key keep working)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from connection_service.settings import DEVELOPMENT_INTERNAL_SERVICE_KEY
from local.testing import LocalGateway

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
UNSET: dict[str, str | None] = {"JWT_SECRET": None, "INTERNAL_SERVICE_KEY": None, "LOCAL_SECRET_ARNS": None}


def status(gateway: LocalGateway, key: str) -> int:
    request = urllib.request.Request(gateway.base_url + "/connections/status", headers={"X-Internal-Service-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            code: int = answer.status
            return code
    except urllib.error.HTTPError as error:
        return error.code


def secrets_manager(gateway: LocalGateway) -> Any:
    [url] = re.findall(r"moto at (\S+) \(AWS_ENDPOINT_URL\)", gateway.logs)
    return boto3.session.Session().client(
        "secretsmanager", endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
        aws_secret_access_key="local",
    )  # fmt: skip


def key_arn(gateway: LocalGateway) -> str:
    [arn] = [
        s["ARN"]
        for s in secrets_manager(gateway).list_secrets()["SecretList"]
        if s["Name"] == "InternalServiceKeySecret"
    ]
    return str(arn)


@pytest.fixture(scope="module")
def fetching(redis_url: str) -> Iterator[LocalGateway]:
    env = {**UNSET, "REDIS_URL": redis_url, "LOCAL_SECRET_ARNS": "true"}
    with LocalGateway(TEMPLATE, env=env, args=["--schedules", "off"]) as gateway:
        yield gateway


def test_the_functions_fetch_the_secrets_the_gateway_created_in_moto_and_follow_a_rotation(
    fetching: LocalGateway,
) -> None:
    arn = key_arn(fetching)
    created = secrets_manager(fetching).get_secret_value(SecretId=arn)["SecretString"]

    assert status(fetching, created) == 200

    secrets_manager(fetching).put_secret_value(SecretId=arn, SecretString="rotated-internal-service-key")
    assert status(fetching, "rotated-internal-service-key") == 200  # at once: the refused key re-read the secret
    assert status(fetching, created) == 401
    assert status(fetching, DEVELOPMENT_INTERNAL_SERVICE_KEY) == 401
    assert created not in fetching.logs and "rotated-internal-service-key" not in fetching.logs


def test_without_local_secret_arns_the_development_defaults_apply(redis_url: str) -> None:
    with LocalGateway(TEMPLATE, env={**UNSET, "REDIS_URL": redis_url}, args=["--schedules", "off"]) as gateway:
        assert status(gateway, DEVELOPMENT_INTERNAL_SERVICE_KEY) == 200
        assert (
            status(gateway, secrets_manager(gateway).get_secret_value(SecretId=key_arn(gateway))["SecretString"]) == 401
        )
