"""What operators see: one EMF document per invocation with the outcome's metrics, and log records that carry the
invocation's route, connection and tenant, never the token."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from connection_service import broadcast, connect, disconnect, message
from tests.integration.conftest import SERVICE_KEY
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event

pytestmark = pytest.mark.usefixtures("lambda_env")

A, B = "AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF documents the functions wrote to stdout since the last call."""
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"_aws"')]


def values(documents: list[dict[str, Any]], name: str, **dimensions: str) -> list[Any]:
    return [d[name] for d in documents if name in d and all(d.get(key) == value for key, value in dimensions.items())]


def connect_as(token: str, connection_id: str) -> int:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    return int(connect.handler(event, LambdaContext())["statusCode"])


def send(api: ConnectionsApi, connection_id: str, body: str) -> None:
    event = load_event("websocket_message")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body
    api.route_response(connection_id, message.handler(event, LambdaContext()))


def test_connects_and_refusals_are_counted_by_reason(
    token: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert connect_as(token("tenant-a", "u1"), A) == 200
    assert connect_as("not-a-token", B) == 401

    documents = emitted(capsys)
    assert values(documents, "Connects", Service="as-connection-service", Stage="dev") == [1]
    assert values(documents, "ConnectsRefused", Reason="unauthorized") == [1]
    metric_names = {m["Name"] for d in documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert metric_names == {"Connects", "ConnectsRefused"}


def test_messages_are_counted_by_action_and_refusals_by_reason_never_by_what_the_client_named(
    token: Callable[..., str], connections_api: ConnectionsApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert connect_as(token("tenant-a", "u1"), A) == 200
    capsys.readouterr()

    send(connections_api, A, '{"action":"ping"}')
    send(connections_api, A, '{"action":"drop_tables"}')

    documents = emitted(capsys)
    assert values(documents, "Messages", Action="ping") == [1]
    assert values(documents, "MessagesRefused", Reason="unknown_action") == [1]
    assert not any("drop_tables" in json.dumps(d) for d in documents)


def test_a_broadcast_counts_deliveries_gone_connections_and_its_latency(
    token: Callable[..., str], connections_api: ConnectionsApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert connect_as(token("tenant-a", "u1"), A) == 200
    assert connect_as(token("tenant-a", "u2"), B) == 200
    connections_api.gone.add(B)
    capsys.readouterr()
    event = load_event("http_api_v2_post")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/broadcast/tenant/tenant-a"
    event["routeKey"] = "$default"
    event["headers"] = {"content-type": "application/json", "x-internal-service-key": SERVICE_KEY}
    event["body"] = json.dumps({"event": "call_missed", "data": {"callId": "c1", "from": "+15550001111"}})
    event.pop("pathParameters", None)

    assert broadcast.handler(event, LambdaContext())["statusCode"] == 202

    documents = emitted(capsys)
    assert values(documents, "Broadcasts") == [1]
    assert values(documents, "Deliveries") == [1]
    assert values(documents, "DeliveriesGone") == [1]
    assert values(documents, "DeliveryFailures") == [0]
    [latency] = values(documents, "BroadcastLatency")
    assert latency >= 0


def test_refused_requests_are_counted_by_reason(capsys: pytest.CaptureFixture[str]) -> None:
    event = load_event("http_api_v2_post")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/broadcast/tenant/tenant-a"
    event["routeKey"] = "$default"
    event["headers"] = {"content-type": "application/json", "x-internal-service-key": "wrong"}
    event.pop("pathParameters", None)

    assert broadcast.handler(event, LambdaContext())["statusCode"] == 401
    assert broadcast.handler({"event": "no_such_event", "tenantId": "t"}, LambdaContext())["status"] == 422

    documents = emitted(capsys)
    assert values(documents, "RequestsRefused", Reason="unauthorized") == [1]
    assert values(documents, "RequestsRefused", Reason="invalid_event") == [1]


def test_a_disconnect_is_counted(token: Callable[..., str], capsys: pytest.CaptureFixture[str]) -> None:
    assert connect_as(token("tenant-a", "u1"), A) == 200
    event = load_event("websocket_disconnect")
    event["requestContext"]["connectionId"] = A

    assert disconnect.handler(event, LambdaContext())["statusCode"] == 200

    assert values(emitted(capsys), "Disconnects") == [1]


def test_log_records_carry_route_connection_and_tenant_and_never_the_token(
    token: Callable[..., str], connections_api: ConnectionsApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret_token = token("tenant-a", "u1", ttl=-60)  # expired: refused, and the refusal is logged
    assert connect_as(secret_token, A) == 401
    assert connect_as(token("tenant-a", "u1"), B) == 200
    send(connections_api, B, '{"action":"subscribe_conversation","data":{}}')  # refused: logged

    refusal = next(r for r in caplog.records if getattr(r, "connectionId", None) == A)
    assert (refusal.route, refusal.levelname) == ("$connect", "INFO")  # type: ignore[attr-defined]
    bad_frame = next(r for r in caplog.records if getattr(r, "route", None) == "$default")
    assert (bad_frame.connectionId, bad_frame.tenantId) == (B, "tenant-a")  # type: ignore[attr-defined]
    assert all(secret_token not in json.dumps(r.__dict__, default=str) for r in caplog.records)
