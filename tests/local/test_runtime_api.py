"""The Runtime API's edges, driven by scripted runtimes (real processes speaking HTTP to the gateway's pool): what a
misbehaving runtime gets, and what its invocation then reports."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from local.emf import MetricsBoard
from local.invocation import InvocationError
from local.model import FunctionSpec
from local.pool import FunctionPool
from local.runtime_api import RuntimeApiServer

# A runtime that answers its first invocation with a report of what the API said to its own misbehaviour, then
# asks for the next invocation without answering the second one.
SCRIPT = textwrap.dedent(
    """
    import http.client, json, os
    api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    def call(method, path, body=None):
        api.request(method, "/2018-06-01/runtime" + path, body=body)
        answer = api.getresponse()
        return answer, answer.read()
    answer, event = call("GET", "/invocation/next")
    request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
    stranger, body = call("POST", "/invocation/not-a-request/response", b"{}")
    report = {"event": json.loads(event), "stranger": [stranger.status, json.loads(body)["errorType"]],
              "deadline": answer.headers["Lambda-Runtime-Deadline-Ms"],
              "arn": answer.headers["Lambda-Runtime-Invoked-Function-Arn"]}
    call("POST", f"/invocation/{request_id}/response", json.dumps(report).encode())
    call("GET", "/invocation/next")
    call("GET", "/invocation/next")
    """
)


@pytest.fixture
def spec(tmp_path: Path) -> FunctionSpec:
    return FunctionSpec(
        logical_id="Scripted",
        name="Scripted",
        handler="unused.handler",
        code_dir=tmp_path,
        runtime="python3.12",
        timeout=30.0,
        memory_size=128,
        arn="arn:aws:lambda:us-east-1:123456789012:function:Scripted",
    )


async def test_a_misbehaving_runtime_gets_clear_answers(spec: FunctionSpec) -> None:
    endpoint = RuntimeApiServer()
    pool = FunctionPool(
        spec, {}, [sys.executable, "-c", SCRIPT], endpoint, limit=1, idle_timeout=60, metrics=MetricsBoard()
    )
    try:
        report = json.loads(await pool.invoke(b'{"n": 1}'))
        assert report["event"] == {"n": 1}
        assert report["stranger"] == [400, "InvalidRequestID"]
        assert report["arn"] == spec.arn
        assert int(report["deadline"]) > 0
        with pytest.raises(InvocationError) as unanswered:
            await asyncio.wait_for(pool.invoke(b'{"n": 2}'), 10)  # bounded: without the check it never answers
        assert unanswered.value.kind == "Runtime.NoResponse"
    finally:
        await pool.close()
        await endpoint.close_all()


# A runtime that posts its result as curl does for larger bodies: headers first with ``Expect: 100-continue``, the
# body only once the API said to continue.
EXPECTING = textwrap.dedent(
    """
    import os, socket
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    sock = socket.create_connection((host, int(port)))
    reader = sock.makefile("rb")
    def head():
        lines = [reader.readline()]
        while lines[-1] not in (b"\\r\\n", b""):
            lines.append(reader.readline())
        return lines
    sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    lines = head()
    request_id = next(l.split(b":", 1)[1].strip() for l in lines if l.lower().startswith(b"lambda-runtime-aws-request-id"))
    length = next(int(l.split(b":", 1)[1]) for l in lines if l.lower().startswith(b"content-length"))
    event = reader.read(length)
    body = b'{"echo": ' + event + b'}'
    sock.sendall(b"POST /2018-06-01/runtime/invocation/" + request_id + b"/response HTTP/1.1\\r\\nHost: x\\r\\n"
                 + b"Expect: 100-continue\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body))
    assert head()[0].startswith(b"HTTP/1.1 100"), "no 100 Continue"
    sock.sendall(body)
    assert head()[0].startswith(b"HTTP/1.1 202")
    sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    head()
    """
)


async def test_a_result_posted_with_expect_100_continue_is_taken(spec: FunctionSpec) -> None:
    endpoint = RuntimeApiServer()
    pool = FunctionPool(
        spec, {}, [sys.executable, "-c", EXPECTING], endpoint, limit=1, idle_timeout=60, metrics=MetricsBoard()
    )
    try:
        answer = await asyncio.wait_for(pool.invoke(b'{"big": "' + b"x" * 4096 + b'"}'), 10)
        assert json.loads(answer)["echo"]["big"] == "x" * 4096
    finally:
        await pool.close()
        await endpoint.close_all()
