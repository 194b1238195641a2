"""Lambda's execution model: environments of their own, one invocation at a time, warm reuse, scale-out, init once,
errors, timeouts and crashes as Lambda reports them. Every test runs with AWS's runtime interface client and with
the pure-Python one, through boto3's real lambda client against the gateway's Invoke API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.testing import LocalGateway
from tests.local.conftest import APPS, hold_fifo, release

LAMBDA_APP = APPS / "lambda" / "template.yaml"
CLIENTS = ["awslambdaric", "python"]


class Functions:
    """boto3's lambda client on one gateway, plus its log."""

    def __init__(self, gateway: LocalGateway) -> None:
        self.gateway = gateway
        self.client = boto3.client(
            "lambda",
            endpoint_url=gateway.base_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
        )

    def invoke(self, function: str, **event: Any) -> dict[str, Any]:
        """The decoded payload; a function error comes back as ``{"FunctionError": ..., **payload}``."""
        answer = self.client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload: dict[str, Any] = json.loads(answer["Payload"].read())
        if "FunctionError" in answer:
            return {"FunctionError": answer["FunctionError"], **payload}
        return payload

    async def ainvoke(self, function: str, **event: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.invoke, function, **event)

    def lines(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in self.gateway.log_lines if regex.search(line)]


def _gateway(client: str, *extra: str) -> LocalGateway:
    args = ["--redis", "off", "--schedules", "off", "--runtime-client", client, *extra]
    return LocalGateway(LAMBDA_APP, env={"REDIS_URL": None}, args=args)


@pytest.fixture(scope="module", params=CLIENTS)
def functions(request: pytest.FixtureRequest) -> Iterator[Functions]:
    with _gateway(request.param, "--max-environments", "3") as gateway:
        assert f"runtime client {request.param}" in gateway.logs
        yield Functions(gateway)


def test_the_handler_runs_in_a_process_of_its_own(functions: Functions) -> None:
    gateway = functions.gateway
    assert gateway.process is not None
    me = functions.invoke("ProbeFunction", op="whoami")
    assert me["pid"] != gateway.process.pid
    assert me["ppid"] == gateway.process.pid
    assert me["tag"] == "probe"


def test_a_warm_environment_is_reused_and_init_runs_once(functions: Functions) -> None:
    mark = functions.gateway.mark()
    first = functions.invoke("TwinFunction", op="whoami")
    second = functions.invoke("TwinFunction", op="whoami")
    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1
    report = (
        r"\[TwinFunction\] REPORT RequestId: \S+ Duration: \d+\.\d\d ms Billed Duration: \d+ ms Memory Size: 128 MB"
    )
    for _ in range(2):
        found = functions.gateway.wait_for_log(report, since=mark)
        mark = functions.gateway.log_lines.index(found.string, mark) + 1
    inits = functions.lines(r"\[TwinFunction\] INIT_REPORT Init Duration: \d+\.\d\d ms")
    assert len(inits) == 1


def test_the_admin_endpoint_lists_each_functions_environments(functions: Functions) -> None:
    me = functions.invoke("TwinFunction", op="whoami")
    listing = json.loads(urllib.request.urlopen(functions.gateway.base_url + "/__local/environments").read())
    assert set(listing) == {"ProbeFunction", "TwinFunction", "ShortFunction", "JsonLogFunction", "BrokenFunction"}
    (mine,) = [e for e in listing["TwinFunction"] if e["pid"] == me["pid"]]
    assert mine["state"] in ("idle", "finishing")
    assert mine["invocations"] >= me["invocations"]
    assert mine["initMs"] > 0


def test_functions_that_share_code_do_not_share_module_state(functions: Functions) -> None:
    probe = functions.invoke("ProbeFunction", op="whoami")
    twin = functions.invoke("TwinFunction", op="whoami")
    assert twin["pid"] != probe["pid"]
    assert (probe["tag"], twin["tag"]) == ("probe", "twin")
    assert functions.invoke("ProbeFunction", op="whoami")["invocations"] == probe["invocations"] + 1


def test_the_environment_is_the_real_process_environment(functions: Functions) -> None:
    seen = functions.invoke("ProbeFunction", op="env", name="PROBE_TAG")
    assert seen["environ_type"] == "_Environ"
    assert seen["direct"] == seen["thread"] == seen["child"] == "probe"
    other = functions.invoke("TwinFunction", op="env", name="PROBE_TAG")
    assert other["direct"] == other["thread"] == other["child"] == "twin"


def test_the_context_carries_lambdas_attributes(functions: Functions) -> None:
    context = functions.invoke("ShortFunction", op="context")
    assert context["function_name"] == "ShortFunction"
    assert context["memory_limit_in_mb"] == "128"
    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])
    assert context["invoked_function_arn"].endswith(":function:ShortFunction")
    assert 0 < context["remaining"] <= 1000


async def test_concurrent_invocations_each_get_an_environment_up_to_the_limit(
    functions: Functions, tmp_path: Path
) -> None:
    gateway = functions.gateway
    mark = gateway.mark()
    fifos = [hold_fifo(tmp_path, f"hold-{i}") for i in range(4)]
    calls = [asyncio.create_task(functions.ainvoke("ProbeFunction", op="hold", fifo=str(f))) for f in fifos]
    holding: dict[str, int] = {}
    for _ in range(3):  # --max-environments 3: three run at once, the fourth waits for one of them
        found = await asyncio.to_thread(
            gateway.wait_for_log, r"\[ProbeFunction\] holding (\S+) pid=(\d+)", since=mark, timeout=20
        )
        holding[found.group(1)] = int(found.group(2))
        mark = next(i for i, line in enumerate(gateway.log_lines) if found.group(0) in line) + 1
    assert len(set(holding.values())) == 3
    queued = next(f for f in fifos if str(f) not in holding)
    first = next(f for f in fifos if str(f) in holding)
    release(first)
    found = await asyncio.to_thread(gateway.wait_for_log, rf"holding {re.escape(str(queued))} pid=(\d+)", since=mark)
    assert int(found.group(1)) == holding[str(first)]  # the freed environment, reused
    for fifo in fifos:
        if fifo != first:
            release(fifo)
    results = await asyncio.gather(*calls)
    assert all("FunctionError" not in result for result in results)


async def test_the_environments_endpoint_answers_once_they_have_settled(functions: Functions, tmp_path: Path) -> None:
    gateway = functions.gateway
    mark = gateway.mark()
    fifo = hold_fifo(tmp_path)
    call = asyncio.create_task(functions.ainvoke("ProbeFunction", op="hold", fifo=str(fifo)))
    await asyncio.to_thread(gateway.wait_for_log, r"\[ProbeFunction\] holding", since=mark, timeout=20)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /__local/environments?wait=settled HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()  # asked while ProbeFunction's invocation is held: the answer must wait for it
    release(fifo)
    head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    states = {e["state"] for pool in json.loads(body).values() for e in pool}
    assert states == {"idle"}
    assert "FunctionError" not in await call
    with pytest.raises(urllib.error.HTTPError) as refused:
        await asyncio.to_thread(urllib.request.urlopen, f"{gateway.base_url}/__local/environments?wait=forever")
    assert refused.value.code == 400


def test_a_handler_error_is_reported_and_the_environment_survives(functions: Functions) -> None:
    before = functions.invoke("ShortFunction", op="whoami")
    failed = functions.invoke("ShortFunction", op="raise")
    assert failed["FunctionError"] == "Unhandled"
    assert failed["errorType"] == "ValueError"
    assert failed["errorMessage"] == "the probe was asked to fail"
    after = functions.invoke("ShortFunction", op="whoami")
    assert after["pid"] == before["pid"]
    assert after["invocations"] == before["invocations"] + 2


def test_a_timeout_replaces_the_environment(functions: Functions, tmp_path: Path) -> None:
    before = functions.invoke("ShortFunction", op="whoami")
    timed_out = functions.invoke("ShortFunction", op="hold", fifo=str(hold_fifo(tmp_path, "never")))
    assert timed_out["FunctionError"] == "Unhandled"
    assert timed_out["errorType"] == "Sandbox.Timedout"
    assert timed_out["errorMessage"].endswith("Task timed out after 1.00 seconds")
    after = functions.invoke("ShortFunction", op="whoami")
    assert after["pid"] != before["pid"]
    assert after["invocations"] == 1


def test_a_process_that_dies_mid_invocation_is_a_runtime_exit_error(functions: Functions) -> None:
    mark = functions.gateway.mark()
    crashed = functions.invoke("ProbeFunction", op="exit")
    assert crashed["FunctionError"] == "Unhandled"
    assert crashed["errorType"] == "Runtime.ExitError"
    assert crashed["errorMessage"].endswith("Runtime exited with error: exit status 3")
    dead = int(functions.gateway.wait_for_log(r"\[ProbeFunction\] exiting mid-invocation pid=(\d+)", since=mark)[1])
    with pytest.raises(ProcessLookupError):
        os.kill(dead, 0)
    after = functions.invoke("ProbeFunction", op="whoami")
    assert after["pid"] != dead


def test_an_init_error_is_reported_and_every_invocation_tries_a_fresh_environment(functions: Functions) -> None:
    mark = functions.gateway.mark()
    for _ in range(2):
        failed = functions.invoke("BrokenFunction")
        assert failed["FunctionError"] == "Unhandled"
        assert failed["errorType"] == "Runtime.ImportModuleError"
        assert failed["errorMessage"] == "Unable to import module 'app': No module named 'not_installed_anywhere'"
    for _ in range(2):
        found = functions.gateway.wait_for_log(r"\[BrokenFunction\] init failed: Runtime.ImportModuleError", since=mark)
        mark = functions.gateway.log_lines.index(found.string, mark) + 1


def test_stdout_reaches_the_gateway_log_prefixed_with_the_function(functions: Functions) -> None:
    mark = functions.gateway.mark()
    functions.invoke("TwinFunction", op="print", text="a line from the twin")
    functions.gateway.wait_for_log(r"\[TwinFunction\] a line from the twin$", since=mark)


def test_the_json_log_format_writes_records_as_lambda_does_and_filters_by_level(functions: Functions) -> None:
    mark = functions.gateway.mark()
    request_id = functions.invoke("JsonLogFunction", op="context")["aws_request_id"]
    functions.invoke("JsonLogFunction", op="log", who="the test")

    found = functions.gateway.wait_for_log(r"\[JsonLogFunction\] (\{.*a warning for the test.*\})$", since=mark)
    record = json.loads(found[1])
    assert (record["level"], record["message"], record["logger"]) == ("WARNING", "a warning for the test", "probe")
    assert record["route"] == "$probe" and record["requestId"] not in (None, request_id)
    assert not functions.lines(r"\[JsonLogFunction\].*an info record")  # below ApplicationLogLevel WARN
    assert not functions.lines(r"\[ProbeFunction\] \{")  # a function without LoggingConfig logs text


@pytest.mark.parametrize("client", CLIENTS)
def test_idle_environments_are_stopped(client: str) -> None:
    with _gateway(client, "--environment-idle-timeout", "0.2") as gateway:
        functions = Functions(gateway)
        first = functions.invoke("ProbeFunction", op="whoami")
        gateway.wait_for_log(r"\[ProbeFunction\] environment 1 stopped \(idle for 0.2 s\)")
        second = functions.invoke("ProbeFunction", op="whoami")
        assert second["pid"] != first["pid"]
        assert second["invocations"] == 1


def test_in_process_mode_runs_handlers_inside_the_gateway_for_debuggers() -> None:
    args = ["--redis", "off", "--schedules", "off", "--in-process"]
    with LocalGateway(LAMBDA_APP, env={"REDIS_URL": None}, args=args) as gateway:
        assert "functions: IN-PROCESS" in gateway.logs
        me = Functions(gateway).invoke("ProbeFunction", op="whoami")
        assert gateway.process is not None
        assert me["pid"] == gateway.process.pid
        assert me["tag"] == "probe"
