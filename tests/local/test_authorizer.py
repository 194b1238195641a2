"""A Lambda REQUEST authorizer on $connect."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from local.testing import LocalGateway
from tests.local.conftest import APPS

TEMPLATE = APPS / "authorized" / "template.yaml"


@pytest.fixture(scope="module")
def guarded() -> Iterator[LocalGateway]:
    with LocalGateway(TEMPLATE, env={"REDIS_URL": None}, args=["--schedules", "off"]) as gateway:
        yield gateway


async def _refused(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=headers or {}):
            pass
    return refused.value.response.status_code


async def test_allow_passes_principal_and_context_into_every_event(guarded: LocalGateway) -> None:
    url = guarded.ws_url + "?token=allow-1"
    async with websockets.connect(url, additional_headers={"X-Client": "web"}) as ws:
        await ws.send(json.dumps({"service": "users", "action": "whoami"}))
        reply = json.loads(await ws.recv())
    assert reply["routeKey"] == "users/whoami"
    authorizer = reply["authorizer"]
    assert authorizer["principalId"] == "user-allow-1"
    assert authorizer["tenant"] == "t1"
    assert authorizer["client"] == "web"
    assert authorizer["type"] == "REQUEST"
    assert isinstance(authorizer["integrationLatency"], int)


async def test_deny_is_403(guarded: LocalGateway) -> None:
    assert await _refused(guarded.ws_url + "?token=nope", {"X-Client": "web"}) == 403


async def test_missing_identity_source_is_401(guarded: LocalGateway) -> None:
    assert await _refused(guarded.ws_url + "?token=allow-1") == 401
    assert await _refused(guarded.ws_url, {"X-Client": "web"}) == 401


async def test_unauthorized_error_is_401_other_errors_500(guarded: LocalGateway) -> None:
    assert await _refused(guarded.ws_url + "?token=unauthorized", {"X-Client": "web"}) == 401
    assert await _refused(guarded.ws_url + "?token=explode", {"X-Client": "web"}) == 500
