"""The AWS CLI's apigatewaymanagementapi commands work against the emulator unchanged (real `aws` binary)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import websockets

from local.testing import LocalGateway
from tests.local.conftest import connection_id_of

AWS = str(Path(sys.executable).with_name("aws"))


def aws(gateway: LocalGateway, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    command = [AWS, "apigatewaymanagementapi", *args, "--endpoint-url", gateway.management_endpoint]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


async def test_the_aws_cli_posts_gets_and_deletes(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        data = "from the cli"  # AWS CLI v1 sends blob arguments as given (v2 would want base64)

        posted = await asyncio.to_thread(
            aws, chat, "post-to-connection", "--connection-id", connection_id, "--data", data
        )
        assert posted.returncode == 0, posted.stderr
        assert await ws.recv() == "from the cli"

        got = await asyncio.to_thread(aws, chat, "get-connection", "--connection-id", connection_id)
        assert got.returncode == 0, got.stderr
        assert {"ConnectedAt", "Identity", "LastActiveAt"} <= set(json.loads(got.stdout))

        deleted = await asyncio.to_thread(aws, chat, "delete-connection", "--connection-id", connection_id)
        assert deleted.returncode == 0, deleted.stderr
        await ws.wait_closed()

    gone = await asyncio.to_thread(aws, chat, "get-connection", "--connection-id", connection_id)
    assert gone.returncode != 0 and "GoneException" in gone.stderr
