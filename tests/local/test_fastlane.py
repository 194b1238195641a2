"""PostToConnection on the gateway's fast lane, and the hand-over to the full application for everything else, on
one kept-alive connection: answers stay in order and every request gets API Gateway's answer."""

from __future__ import annotations

import http.client
import json
import socket

import websockets

from local.testing import LocalGateway
from tests.local.conftest import connection_id_of


def _response(connection: http.client.HTTPConnection) -> tuple[int, dict[str, str], bytes]:
    answer = connection.getresponse()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


async def test_posts_and_other_requests_share_one_connection(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        path = f"/{chat.stage}/@connections/{connection_id}"
        client = http.client.HTTPConnection("127.0.0.1", chat.port)
        try:
            client.request("POST", path, body=b"first")
            status, headers, body = _response(client)
            assert (status, body) == (200, b"")
            assert headers["x-amzn-requestid"]
            assert await ws.recv() == "first"

            client.request("POST", f"/{chat.stage}/@connections/AAAAAAAAAAAAAAA=", body=b"lost")
            status, headers, _ = _response(client)
            assert status == 410
            assert headers["x-amzn-errortype"] == "GoneException"

            client.request("GET", path)  # not a post: the full application answers, on the same connection
            status, _, body = _response(client)
            assert status == 200
            assert set(json.loads(body)) == {"connectedAt", "identity", "lastActiveAt"}

            client.request("POST", path, body=b"after the hand-over")
            status, _, _ = _response(client)
            assert status == 200
            assert await ws.recv() == "after the hand-over"
        finally:
            client.close()


async def test_pipelined_posts_are_answered_in_order(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        requests = b"".join(
            f"POST /{chat.stage}/@connections/{cid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
            for cid, body in ((connection_id, b"one"), ("AAAAAAAAAAAAAAA=", b"nobody"), (connection_id, b"two"))
        )
        with socket.create_connection(("127.0.0.1", chat.port)) as raw:
            raw.sendall(requests)
            reader = raw.makefile("rb")
            statuses = []
            for _ in range(3):
                statuses.append(int(reader.readline().split()[1]))
                while reader.readline() not in (b"\r\n", b""):
                    pass
        assert statuses == [200, 410, 200]
        assert [await ws.recv(), await ws.recv()] == ["one", "two"]


async def test_a_chunked_post_goes_through_the_full_application(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        client = http.client.HTTPConnection("127.0.0.1", chat.port)
        try:
            client.request("POST", f"/{chat.stage}/@connections/{connection_id}", body=iter([b"chun", b"ked"]))
            status, _, _ = _response(client)
        finally:
            client.close()
        assert status == 200
        assert await ws.recv() == "chunked"


async def test_connection_close_is_honoured(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        head = (
            f"POST /{chat.stage}/@connections/{connection_id} HTTP/1.1\r\nHost: localhost\r\n"
            "Connection: close\r\nContent-Length: 4\r\n"
        )
        with socket.create_connection(("127.0.0.1", chat.port)) as raw:
            raw.sendall(head.encode() + b"\r\nbye!")
            answer = b""
            while chunk := raw.recv(4096):  # the gateway closes after answering: recv returns b""
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert await ws.recv() == "bye!"
