"""Helpers for the tests that run the sample apps (tests/local/apps/{https_chat,rooms,async_connect}) as published:
the real gateway, moto's real server, boto3 and real sockets, nothing set up beyond ``python -m local -t …``."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from pathlib import Path
from typing import Any

import boto3
import websockets

from local.testing import LocalGateway
from tests.local.conftest import APPS, wait_disconnect
from tests.support.aws_clients import AWS_TEST_CLIENT

HTTPS_CHAT = APPS / "https_chat" / "template.yaml"
ROOMS = APPS / "rooms" / "template.yaml"
ASYNC_CONNECT = APPS / "async_connect" / "template.yaml"


def sample_gateway(template: Path, data_dir: Path, *args: str) -> LocalGateway:
    """The gateway exactly as a developer starts it on someone else's app (plus a private data directory)."""
    return LocalGateway(template, env={"REDIS_URL": None}, args=["--data-dir", str(data_dir), *args])


def moto_endpoint(gateway: LocalGateway) -> str:
    return gateway.wait_for_log(r"AWS resources: moto at (http://\S+)").group(1)


def ca_file(gateway: LocalGateway) -> str:
    return gateway.wait_for_log(r"local CA: (\S+)").group(1)


def aws(gateway: LocalGateway, service: str) -> Any:
    """boto3's client for one of the template's resources, where the gateway says they live."""
    return boto3.client(service, endpoint_url=moto_endpoint(gateway), **AWS_TEST_CLIENT)  # type: ignore[call-overload]  # the stubs type each service apart


def table(gateway: LocalGateway, name: str) -> Any:
    return boto3.resource("dynamodb", endpoint_url=moto_endpoint(gateway), **AWS_TEST_CLIENT).Table(name)


def management(endpoint: str, verify: str | bool = True) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, verify=verify, **AWS_TEST_CLIENT)


def tls_context(gateway: LocalGateway) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file(gateway))


async def received(ws: websockets.ClientConnection, timeout: float = 30.0) -> str:
    """The next message (a test that waits for one that never comes fails instead of hanging)."""
    message = await asyncio.wait_for(ws.recv(), timeout)
    return message if isinstance(message, str) else message.decode()


async def check_management_api(gateway: LocalGateway, ws: websockets.ClientConnection, connection_id: str) -> None:
    """boto3's apigatewaymanagementapi works against both endpoints: https (trusting the local CA) and http."""
    for endpoint, verify in (
        (gateway.secure_management_endpoint, ca_file(gateway)),
        (gateway.management_endpoint, True),
    ):
        client = management(endpoint, verify)
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps({"via": endpoint}).encode())
        assert json.loads(await received(ws)) == {"via": endpoint}
        assert client.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"


def wait_row_deleted(gateway: LocalGateway, rows: Any, key: dict[str, str], since: int) -> None:
    """After the client left: ``$disconnect`` has run (its log line), and it deleted the row."""
    wait_disconnect(gateway, key["connectionId"], since=since)
    gateway.wait_for_log(rf"DISCONNECT +{re.escape(key['connectionId'])} .* 200 ", since=since)
    assert "Item" not in rows.get_item(Key=key)
