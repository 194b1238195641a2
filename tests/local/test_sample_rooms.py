"""A REST API (``Events: Api``) next to a WebSocket API with a Lambda authorizer, members in a table with a GSI,
the token a generated secret, a message of the day in SSM, run unmodified."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from local.testing import LocalGateway
from tests.local.conftest import assert_same_shape
from tests.local.samples import ROOMS, aws, check_management_api, received, sample_gateway, table, wait_row_deleted
from tests.support.lambda_env import load_event

FREE = frozenset({"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    with sample_gateway(ROOMS, tmp_path_factory.mktemp("data")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def token(gateway: LocalGateway) -> str:
    """The generated secret, read where the functions read it."""
    secret = aws(gateway, "secretsmanager").get_secret_value(SecretId="TokenSecret")["SecretString"]
    value: str = json.loads(secret)["token"]
    return value


def _url(gateway: LocalGateway, user: str, room: str, token: str) -> str:
    return f"{gateway.ws_url}?token={token}&user={user}&room={room}"


def _rest(gateway: LocalGateway, method: str, path: str, body: bytes | None = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(gateway.base_url + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def _member(gateway: LocalGateway, user: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = table(gateway, "MembersTable").scan()["Items"]
    (row,) = [row for row in rows if row["user"] == user]
    return row


async def test_rooms_over_websocket_and_rest(gateway: LocalGateway, token: str) -> None:
    async with (
        websockets.connect(_url(gateway, "alice", "r1", token)) as alice,
        websockets.connect(_url(gateway, "bob", "r1", token)) as bob,
        websockets.connect(_url(gateway, "carol", "r2", token)) as carol,
    ):
        alice_row = _member(gateway, "alice")  # connect wrote the row, with the authorizer's context
        assert alice_row["room"] == "r1"
        status, _, listed = _rest(gateway, "GET", "/rooms/r1")  # the GSI, through the REST API
        assert (status, listed["users"], listed["motd"]) == (200, ["alice", "bob"], "be kind")
        assert _rest(gateway, "GET", "/Prod/rooms/r2")[2]["users"] == ["carol"]  # under the stage as well

        await alice.send(json.dumps({"action": "say", "text": "hi r1"}))
        assert json.loads(await received(bob)) == {"room": "r1", "from": "alice", "text": "hi r1"}
        assert json.loads(await received(alice))["text"] == "hi r1"

        status, _, posted = _rest(gateway, "POST", "/rooms/r2", b"maintenance at noon")
        assert (status, posted) == (202, {"sent": 1})
        # carol's first message is the r2 announcement: r1's message never reached her
        assert json.loads(await received(carol)) == {"room": "r2", "announcement": "maintenance at noon"}

        await check_management_api(gateway, alice, alice_row["connectionId"])
        bob_id = _member(gateway, "bob")["connectionId"]
        mark = gateway.mark()
        await bob.close()
        wait_row_deleted(gateway, table(gateway, "MembersTable"), {"connectionId": bob_id}, since=mark)


async def test_the_authorizer_checks_the_generated_secret(gateway: LocalGateway, token: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(_url(gateway, "mallory", "r1", "not-" + token)):
            pass
    assert refused.value.response.status_code == 401


def test_rest_event_has_sam_local_shape_and_proxy_path(gateway: LocalGateway) -> None:
    status, _, answer = _rest(gateway, "GET", "/files/docs/readme.txt?version=2")
    assert (status, answer["file"]) == (200, "docs/readme.txt")
    event = answer["event"]
    assert_same_shape(event, load_event("rest_api_v1_get"), free=FREE)
    assert event["pathParameters"] == {"proxy": "docs/readme.txt"}
    assert event["requestContext"]["stage"] == "Prod"
    assert event["multiValueQueryStringParameters"] == {"version": ["2"]}


def test_rest_errors_are_shaped_as_api_gateway(gateway: LocalGateway) -> None:
    status, headers, body = _rest(gateway, "GET", "/no/such/route")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    status, headers, body = _rest(gateway, "DELETE", "/rooms/r1")  # a resource without that method
    assert (status, body["message"]) == (403, "Missing Authentication Token")


def test_the_gsi_is_created_as_declared(gateway: LocalGateway) -> None:
    described = aws(gateway, "dynamodb").describe_table(TableName="MembersTable")["Table"]
    (index,) = described["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-room"
    assert index["KeySchema"] == [
        {"AttributeName": "room", "KeyType": "HASH"},
        {"AttributeName": "joinedAt", "KeyType": "RANGE"},
    ]
    assert "StreamSpecification" not in described  # streams off
    assert aws(gateway, "ssm").get_parameter(Name="/rooms/motd")["Parameter"]["Value"] == "be kind"


def test_variables_naming_the_apps_own_apis_are_rewritten(gateway: LocalGateway) -> None:
    logs = gateway.logs
    tls = f"https://127.0.0.1:{gateway.tls_port}"
    assert f"API URL rewritten: RoomsFunction SOCKET_ENDPOINT={tls}/live" in logs
    assert f"API URL rewritten: RoomsFunction ROOMS_API_URL={tls}/Prod/" in logs
