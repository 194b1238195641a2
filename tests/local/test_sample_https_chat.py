"""AWS's simple-websockets-chat-app shape, run unmodified: a DynamoDB connections table and messages sent back
through ``"https://" + domainName + "/" + stage``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websockets

from local.testing import LocalGateway
from tests.local.samples import (
    HTTPS_CHAT,
    aws,
    check_management_api,
    received,
    sample_gateway,
    table,
    tls_context,
    wait_row_deleted,
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    with sample_gateway(HTTPS_CHAT, tmp_path_factory.mktemp("data")) as gateway:
        yield gateway


def _ids(gateway: LocalGateway) -> set[str]:
    rows = table(gateway, "simplechat_connections").scan()["Items"]
    return {row["connectionId"] for row in rows}


async def test_chat_round_trip_through_https_callbacks(gateway: LocalGateway) -> None:
    rows = table(gateway, "simplechat_connections")
    async with websockets.connect(gateway.ws_url) as alice:
        (alice_id,) = _ids(gateway)  # connect wrote the row
        async with websockets.connect(gateway.wss_url, ssl=tls_context(gateway)) as bob:  # a dashboard on wss://
            (bob_id,) = _ids(gateway) - {alice_id}
            await alice.send(json.dumps({"action": "sendmessage", "data": "hello from alice"}))
            assert await received(bob) == "hello from alice"
            assert await received(alice) == "hello from alice"
            await check_management_api(gateway, bob, bob_id)
            mark = gateway.mark()
        wait_row_deleted(gateway, rows, {"connectionId": bob_id}, since=mark)
        assert _ids(gateway) == {alice_id}


def test_the_table_is_created_as_declared(gateway: LocalGateway) -> None:
    dynamodb = aws(gateway, "dynamodb")
    described = dynamodb.describe_table(TableName="simplechat_connections")["Table"]
    assert described["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    ttl = dynamodb.describe_time_to_live(TableName="simplechat_connections")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_startup_names_the_runtime_mismatch_and_what_is_backed(gateway: LocalGateway) -> None:
    logs = gateway.logs
    assert "RUNTIME: SendMessageFunction: template runtime python3.9, runs on this interpreter" in logs
    assert "backed: ConnectionsTable (AWS::DynamoDB::Table) simplechat_connections" in logs
    assert f"requestContext.domainName: 127.0.0.1:{gateway.tls_port}" in logs
