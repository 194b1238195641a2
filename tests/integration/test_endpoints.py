"""Where the functions send @connections calls: the API's endpoint, boto3's service endpoint variable, or
LocalStack's edge URL when running inside LocalStack — checked with the real boto3 client over HTTP."""

from __future__ import annotations

import boto3
import pytest

from connection_service.config import Settings
from connection_service.errors import ConnectionGone, DeliveryFailed
from connection_service.gateway import ManagementApi, management_endpoint
from tests.support.aws_connections import ConnectionsApi

BASE = {
    "jwt_secret": "s" * 32,
    "internal_service_key": "k",
    "websocket_api_endpoint": "https://abc.execute-api.us-east-1.amazonaws.com/dev",
}


def settings(**overrides: str) -> Settings:
    return Settings(**{**BASE, **overrides})  # type: ignore[arg-type]


def test_the_api_endpoint_is_used_by_default() -> None:
    assert management_endpoint(settings()) == "https://abc.execute-api.us-east-1.amazonaws.com/dev"


def test_the_service_specific_endpoint_variable_wins() -> None:
    chosen = settings(aws_endpoint_url_apigatewaymanagementapi="http://127.0.0.1:4566")

    assert management_endpoint(chosen) == "http://127.0.0.1:4566"


def test_a_global_endpoint_url_alone_does_not_redirect_outside_localstack() -> None:
    assert management_endpoint(settings(aws_endpoint_url="http://127.0.0.1:4566")).endswith("/dev")  # type: ignore[union-attr]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("aws_env")
def test_inside_localstack_posts_go_to_the_edge_url(connections_api: ConnectionsApi) -> None:
    edge = connections_api.endpoint.rsplit("/", 1)[0]  # LocalStack routes @connections without api id or stage
    api = ManagementApi.from_settings(settings(localstack_hostname="localhost.localstack.cloud", aws_endpoint_url=edge))

    api.post("L0SM9cOFvHcCIhw=", b'{"event":"pong"}')

    assert connections_api.frames("L0SM9cOFvHcCIhw=") == [{"event": "pong"}]


def test_the_region_lambda_sets_is_enough(monkeypatch: pytest.MonkeyPatch, connections_api: ConnectionsApi) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    api = ManagementApi.from_settings(settings(websocket_api_endpoint=connections_api.endpoint, aws_region="eu-west-1"))

    api.post("L0SM9cOFvHcCIhw=", b'{"event":"a"}')
    api.delete("L0SM9cOFvHcCIhw=")

    assert connections_api.frames("L0SM9cOFvHcCIhw=") == [{"event": "a"}]
    assert connections_api.deleted == ["L0SM9cOFvHcCIhw="]
    assert "/eu-west-1/execute-api/" in connections_api.requests[0][2]["Authorization"]


@pytest.mark.usefixtures("aws_env")
def test_without_a_signed_poster_many_posts_go_through_boto3_with_the_same_outcomes(
    connections_api: ConnectionsApi,
) -> None:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=connections_api.endpoint, region_name="us-east-1")
    api = ManagementApi(client, concurrency=1)  # as inside LocalStack: its client, no poster; in order
    connections_api.gone.add("gone-connection=")
    connections_api.failures.append(403)

    outcomes = api.post_many(["refused-connection", "gone-connection=", "L0SM9cOFvHcCIhw="], b'{"event":"a"}')

    assert isinstance(outcomes[0], DeliveryFailed) and isinstance(outcomes[1], ConnectionGone) and outcomes[2] is None
    assert connections_api.frames("L0SM9cOFvHcCIhw=") == [{"event": "a"}]
