"""Each function's environment: template, parameters, shell, --env-vars, the gateway's own variables."""

from __future__ import annotations

import json
from pathlib import Path

import websockets

from local.testing import LocalGateway
from tests.local.conftest import CHAT, echo

NAMES = [
    "FUNCTION_TAG",
    "CONNECT_ONLY",
    "GREETING",
    "SHELL_OVERRIDABLE",
    "UNDECLARED_VAR",
    "WEBSOCKET_API_ENDPOINT",
    "AWS_SAM_LOCAL",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
]


async def test_each_function_sees_its_own_template_environment(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        reply = await echo(ws, env=NAMES)
        await ws.send("hello")
        default_reply = json.loads(await ws.recv())
    env = reply["env"]
    assert env["FUNCTION_TAG"] == "echo"
    assert env["CONNECT_ONLY"] is None  # another function's variable
    assert env["UNDECLARED_VAR"] is None  # set in the shell, not declared by the template
    assert env["GREETING"] == "hello-from-default"  # a parameter's Default
    assert env["SHELL_OVERRIDABLE"] == "template-value"
    assert env["WEBSOCKET_API_ENDPOINT"] == chat.management_endpoint
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["_HANDLER"] == "app.lambda_handler"
    assert env["LAMBDA_TASK_ROOT"] == str((CHAT.parent / "echo").resolve())
    # All handlers are app.py in their own directory: each function imports its own as ``app``, as in Lambda.
    assert default_reply["greeting"] == "hello-from-default"
    assert reply["module"] == "app"


async def test_overrides_shell_and_env_vars_file(tmp_path: Path) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(
        json.dumps(
            {
                "EchoFunction": {"GREETING": "from-env-vars-function"},
                "Parameters": {"FUNCTION_TAG": "from-env-vars-parameters"},
            }
        )
    )
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nSHELL_OVERRIDABLE='from-dotenv'\n")
    shell = {"REDIS_URL": None, "UNDECLARED_VAR": "x"}
    args = [
        "--redis", "off",
        "--schedules", "off",
        "--env-vars", str(env_vars),
        "--env-file", str(dotenv),
        "--parameter-overrides", "Greeting=overridden", "StageName=other",
    ]  # fmt: skip
    with LocalGateway(CHAT, env=shell, args=args) as gateway:
        assert gateway.stage == "other"
        async with websockets.connect(gateway.ws_url) as ws:
            env = (await echo(ws, env=NAMES))["env"]
            await ws.send("hello")
            default_reply = json.loads(await ws.recv())
    assert env["GREETING"] == "from-env-vars-function"
    assert env["FUNCTION_TAG"] == "from-env-vars-parameters"
    assert env["SHELL_OVERRIDABLE"] == "from-dotenv"
    assert default_reply["greeting"] == "overridden"


async def test_shell_value_wins_over_the_template(tmp_path: Path) -> None:
    shell = {"REDIS_URL": None, "SHELL_OVERRIDABLE": "from-shell"}
    with LocalGateway(CHAT, env=shell, args=["--redis", "off", "--schedules", "off"]) as gateway:
        async with websockets.connect(gateway.ws_url) as ws:
            env = (await echo(ws, env=["SHELL_OVERRIDABLE"]))["env"]
    assert env["SHELL_OVERRIDABLE"] == "from-shell"
