"""Developer comfort: code reload, --help, log lines, unsupported features named at startup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import websockets

from local.testing import LocalGateway
from tests.local.conftest import MINIMAL

HANDLER = """\
import json


def main(event, context):
    return {{"statusCode": 200, "body": "{version}"}}
"""


def _app(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(MINIMAL.parent, target)
    (target / "src" / "handler.py").write_text(HANDLER.format(version="v1"))
    return target / "template.yaml"


def _bump(path: Path, version: str) -> None:
    path.write_text(HANDLER.format(version=version))
    stamp = path.stat().st_mtime + 5
    os.utime(path, (stamp, stamp))


def _post_reload(base_url: str) -> None:
    request = urllib.request.Request(f"{base_url}/__local/reload", method="POST")
    urllib.request.urlopen(request, timeout=10).read()


async def _ping(url: str) -> str | bytes:
    async with websockets.connect(url) as ws:
        await ws.send('{"kind": "ping"}')
        return await ws.recv()


async def test_reload_flag_picks_up_changed_code(tmp_path: Path) -> None:
    template = _app(tmp_path)
    args = ["--redis", "off", "--reload", "--reload-interval", "0.1"]
    with LocalGateway(template, env={"REDIS_URL": None}, args=args) as gateway:
        assert await _ping(gateway.ws_url) == "v1"
        mark = gateway.mark()
        _bump(template.parent / "src" / "handler.py", "v2")
        gateway.wait_for_log("RELOAD", since=mark)
        assert await _ping(gateway.ws_url) == "v2"


async def test_admin_reload_without_the_flag(tmp_path: Path) -> None:
    template = _app(tmp_path)
    with LocalGateway(template, env={"REDIS_URL": None}, args=["--redis", "off"]) as gateway:
        assert await _ping(gateway.ws_url) == "v1"
        _bump(template.parent / "src" / "handler.py", "v2")
        assert await _ping(gateway.ws_url) == "v1"  # warm: the old code stays loaded
        _post_reload(gateway.base_url)
        assert await _ping(gateway.ws_url) == "v2"


def test_help_documents_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local", "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    text = result.stdout
    for option in [
        "--template", "--host", "--port", "--stage", "--env-file", "--env-vars", "--parameter-overrides",
        "--redis", "--reload", "--frame-limit", "--message-limit", "--post-limit", "--idle-timeout",
        "--max-duration", "--connect-rate", "--integration-timeout", "--schedules", "--schedule-speed", "--fault",
        "@connections", "/__local/faults", "2015-03-31/functions",
    ]:  # fmt: skip
        assert option in text, option


async def test_one_log_line_per_connection_event_and_invocation(tmp_path: Path) -> None:
    template = _app(tmp_path)
    with LocalGateway(template, env={"REDIS_URL": None}, args=["--redis", "off"]) as gateway:
        mark = gateway.mark()
        await _ping(gateway.ws_url)
        line = gateway.wait_for_log(r"MESSAGE +(\S+) ping -> PingFunction 200 [\d.]+ ms", since=mark)
        gateway.wait_for_log(rf"CONNECT +{line.group(1)} \(no \$connect integration\) -> 200", since=mark)
        gateway.wait_for_log(rf"DISCONNECT +{line.group(1)} 100\d \(no \$disconnect integration\)", since=mark)


def test_unsupported_features_are_named_at_startup(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(
            """\
            Resources:
              Api:
                Type: AWS::ApiGatewayV2::Api
                Properties: {Name: x, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
              Route:
                Type: AWS::ApiGatewayV2::Route
                Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${Mock}"}
              Mock:
                Type: AWS::ApiGatewayV2::Integration
                Properties: {ApiId: !Ref Api, IntegrationType: MOCK}
              Table:
                Type: AWS::DynamoDB::Table
                Properties: {}
            """
        )
    )
    args = ["--redis", "off", "--aws-resources", "off"]
    with LocalGateway(template, env={"REDIS_URL": None}, args=args) as gateway:
        logs = gateway.logs
    assert "NOT EMULATED: Route: integration type MOCK is not emulated (AWS_PROXY only)" in logs
    assert "NOT EMULATED: Table (AWS::DynamoDB::Table) is not emulated (--aws-resources off)" in logs


def test_a_port_in_use_is_a_clear_startup_error() -> None:
    import socket
    import subprocess
    import sys

    from tests.local.conftest import MINIMAL

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "local", "--template", str(MINIMAL), "--port", str(port), "--redis", "off"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert run.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in run.stderr
