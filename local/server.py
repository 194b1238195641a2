"""Wiring: template → environments → Redis → invoker → aiohttp application on one port; run and shut down."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from local.admin import AdminService
from local.api_urls import ApiUrlRewriter, LocalAddresses
from local.background_tasks import BackgroundTasks
from local.clock import now_ms
from local.config import GatewayConfig
from local.event_payloads import schedule_payload
from local.fastlane import FastLane
from local.function_env import function_environment, wants_redis
from local.gateway import Gateway
from local.guard import LocalOnly
from local.httpapi import HttpApiService
from local.inprocess import InProcessInvoker
from local.invocation import InvocationError, Invoker
from local.lambda_api import LambdaApi
from local.logsafe import printable
from local.management import ManagementService
from local.model import AppModel, ScheduleSpec
from local.pool import EnvironmentInvoker
from local.redis_server import EmbeddedCluster, RedisServer
from local.restapi import RestApiService, missing_authentication_token
from local.runtime_versions import runtime_mismatches
from local.sandbox import runtime_command
from local.schedules import ScheduleRunner
from local.template import load_app
from local.tls import TlsFiles, certificate_hosts, default_data_dir, prepare
from local.websocket import WebSocketService

if TYPE_CHECKING:
    from local.moto_backing import MotoBacking

log = logging.getLogger("local")

READY_MARKER = "local gateway ready"


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loopback_authority(host: str, port: int) -> str:
    """``host:port`` a process on this machine reaches a listener on ``host`` by (a wildcard: loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _close_expired(lanes: weakref.WeakSet[FastLane], interval: float = 0.25) -> None:
    while True:
        await asyncio.sleep(interval)
        now = time.monotonic()
        for lane in [lane for lane in lanes if lane.expired(now)]:
            lane.close()


def resolve_runtime_client(choice: str) -> str:
    """``auto``: AWS's runtime interface client where it is installed (Linux wheels), else the pure-Python one."""
    if choice != "auto":
        return choice
    return "awslambdaric" if importlib.util.find_spec("awslambdaric") is not None else "python"


class LocalGatewayServer:
    """Everything the gateway runs, built from a config (the template loaded, the ports bound, the backing
    services started); :meth:`serve` runs until stopped, :meth:`close` releases what was started."""

    def __init__(self, config: GatewayConfig, shell: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.shell = dict(os.environ if shell is None else shell)
        self.aws_port = free_loopback_port() if config.aws_resources == "moto" else None
        self.model: AppModel = load_app(
            Path(config.template),
            overrides=config.parameter_overrides,
            region=config.region,
            account_id=config.account_id,
            aws_endpoint=None if self.aws_port is None else f"http://127.0.0.1:{self.aws_port}",
        )
        websocket = self.model.websocket
        self.stage = config.stage or (websocket.stage_name if websocket and websocket.stage_name else "dev")
        self.tls_sock: socket.socket | None = None
        self.aws: MotoBacking | None = None
        self.redis: RedisServer | EmbeddedCluster | None = None
        self.redis_url: str | None = None
        self.redis_source = "none"
        self._stop = asyncio.Event()
        self.sock = bind_socket(config.host, config.port)
        try:
            requested_port, config.port = config.port, int(self.sock.getsockname()[1])
            self.tls_sock = self._bind_tls(requested_port) if config.tls else None
            self.aws = self._start_aws()
            self.tls = self._start_tls()
            self.domain_name = None if self.tls_port is None else loopback_authority(config.host, self.tls_port)
            self.rewritten = self._rewrites()
            environments = self._start_redis()
            self.runtime_client = "in-process" if config.in_process else resolve_runtime_client(config.runtime_client)
            self.gateway = Gateway(config, self.model, self._invoker(environments), self.stage)
            self.gateway.domain_name = self.domain_name
            self.websocket = WebSocketService(self.gateway)
            self.management = ManagementService(self.gateway, self.websocket)
            self.http = HttpApiService(self.gateway)
            self.rest = RestApiService(self.gateway)
            self.lambda_api = LambdaApi(self.gateway)
            self.admin = AdminService(self.gateway, self.fire_schedule, self.reload)
            self.schedules = ScheduleRunner(self.model.schedules, self.fire_schedule, config.schedule_speed)
            self.local_only = LocalOnly(config.allowed_hosts)
            self.app = self._application()
        except BaseException:
            self.close()
            raise

    # --- setup ----------------------------------------------------------------------------------------------

    def _bind_tls(self, requested_port: int) -> socket.socket:
        config = self.config
        if config.tls_port is not None:
            return bind_socket(config.host, config.tls_port)
        if requested_port == 0:
            return bind_socket(config.host, 0)
        try:
            return bind_socket(config.host, config.port + 1)
        except OSError:  # the next port is taken: any free one (the startup lines say which)
            return bind_socket(config.host, 0)

    @property
    def tls_port(self) -> int | None:
        return None if self.tls_sock is None else int(self.tls_sock.getsockname()[1])

    def _start_tls(self) -> TlsFiles | None:
        if self.tls_sock is None:
            return None
        data_dir = self.config.data_dir or default_data_dir(self.shell)
        return prepare(data_dir, certificate_hosts(self.config.host, self.config.allowed_hosts), self.shell)

    def _start_aws(self) -> MotoBacking | None:
        if self.aws_port is None:
            for resource in self.model.aws_resources:
                off = f"{resource.logical_id} ({resource.type}) is not emulated (--aws-resources off)"
                self.model.warnings.append(off)
            return None
        if not self.model.aws_resources:
            return None
        from local.moto_backing import MotoBacking

        aws = MotoBacking(self.aws_port, self.config.region, self.config.aws_state).start()
        try:
            aws.create(self.model.aws_resources)
            aws.restore()
        except BaseException:
            aws.stop()
            raise
        return aws

    def _rewrites(self) -> dict[str, dict[str, str]]:
        """Template values naming one of the app's own APIs, rewritten to the gateway's address."""
        local = LocalAddresses(
            plain=loopback_authority(self.config.host, self.config.port),
            secure=None if self.tls_port is None else loopback_authority(self.config.host, self.tls_port),
            websocket_stage=self.stage,
        )
        rewriter = ApiUrlRewriter(self.model.apis, local)
        set_by_gateway = self._gateway_variables()
        rewrites: dict[str, dict[str, str]] = {}
        for lid, spec in self.model.functions.items():
            for name, value in spec.environment.items():
                new = rewriter.rewrite(value)
                if new != value and name not in set_by_gateway:
                    rewrites.setdefault(lid, {})[name] = new
        return rewrites

    def _gateway_variables(self) -> dict[str, str]:
        base = f"http://{loopback_authority(self.config.host, self.config.port)}"
        variables = {
            "WEBSOCKET_API_ENDPOINT": f"http://{self.config.host}:{self.config.port}/{self.stage}",
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{base}/{self.stage}",
        }
        if self.config.lambda_api:
            variables["AWS_ENDPOINT_URL_LAMBDA"] = base
        if self.aws is not None:
            variables["AWS_ENDPOINT_URL"] = self.aws.url
        if self.tls is not None:
            bundle = str(self.tls.trust_bundle)
            variables.update(AWS_CA_BUNDLE=bundle, SSL_CERT_FILE=bundle, REQUESTS_CA_BUNDLE=bundle)
        return variables

    def _environments(self, redis_url: str | None) -> dict[str, dict[str, str]]:
        gateway = self._gateway_variables()
        return {
            lid: function_environment(
                spec,
                shell=self.shell,
                env_vars=self.config.env_vars,
                region=self.config.region,
                gateway=gateway,
                redis_url=redis_url,
                template_values=self.rewritten.get(lid),
            )
            for lid, spec in self.model.functions.items()
        }

    def _start_redis(self) -> dict[str, dict[str, str]]:
        configured = self.shell.get("REDIS_URL", "")
        if configured and self.config.redis not in ("embedded", "cluster"):
            self.redis_url, self.redis_source = configured, "REDIS_URL from the environment"
            self.shell.setdefault("REDIS_MODE", "standalone")  # one server, unless the environment says cluster
            return self._environments(configured)
        envs = self._environments(None)
        if self.config.redis == "off":
            return envs
        if self.config.redis in ("embedded", "cluster") or wants_redis(self.model.functions, envs):
            cluster = self.config.redis == "cluster"
            self.redis = EmbeddedCluster().start() if cluster else RedisServer().start()
            self.redis_url = self.redis.url
            self.redis_source = (
                "embedded Redis Cluster (3 primaries, 1 replica each) started by the gateway"
                if cluster
                else "embedded redis-server started by the gateway"
            )
            envs = self._environments(self.redis_url)
            for env in envs.values():  # the Redis the gateway started, and what kind it is
                env["REDIS_URL"] = self.redis_url
                env["REDIS_MODE"] = "cluster" if cluster else "standalone"
        return envs

    def _invoker(self, envs: dict[str, dict[str, str]]) -> Invoker:
        config = self.config
        if config.in_process:
            return InProcessInvoker(self.model.functions, envs)
        client = self.runtime_client
        return EnvironmentInvoker(
            self.model.functions,
            envs,
            command=lambda spec: runtime_command(client, spec.handler),
            limit=config.max_environments,
            idle_timeout=config.environment_idle_timeout,
        )

    def _application(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024, handler_args={"max_field_size": 65536})
        local_only = self.local_only
        for route in self.admin.routes():
            app.router.add_route(route.method, route.path, local_only.wrap(route.handler))
        management = local_only.wrap(self.management.handle)
        app.router.add_route("*", "/@connections/{connection_id}", management)
        app.router.add_route("*", "/{stage}/@connections/{connection_id}", management)
        if self.config.lambda_api:
            app.router.add_post("/2015-03-31/functions/{name}/invocations", local_only.wrap(self.lambda_api.invoke))
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # --- request dispatch -----------------------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        is_ws_path = self.model.websocket is not None and request.path in self.websocket.paths
        if is_ws_path and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.websocket.handle(request)
        matched = self.http.match(request)
        if matched is not None:
            return await self.http.handle(request, *matched)
        rest = self.rest.match(request)
        if rest is not None:
            return await self.rest.handle(request, *rest)
        if is_ws_path:
            return web.Response(status=426, text="Upgrade Required", headers={"Upgrade": "websocket"})
        if self.model.rest_routes and not self.model.http_routes:
            return missing_authentication_token()
        return web.json_response({"message": "Not Found"}, status=404)

    async def fire_schedule(self, schedule: ScheduleSpec) -> None:
        payload = schedule_payload(
            schedule.input,
            rule_arn=schedule.rule_arn,
            region=self.model.region,
            account_id=self.model.account_id,
            now_ms=now_ms(),
        )
        started = time.perf_counter()
        try:
            await self.gateway.invoker.invoke(schedule.function, payload)
        except InvocationError as error:
            log.info(
                "SCHEDULE   %s -> %s error %s: %s",
                schedule.name,
                schedule.function,
                printable(error.kind),
                printable(error.message),
            )
            return
        log.info(
            "SCHEDULE   %s -> %s ok %.1f ms", schedule.name, schedule.function, (time.perf_counter() - started) * 1000
        )

    def reload(self) -> int:
        dropped = self.gateway.invoker.reload()
        log.info("RELOAD     code reloaded (%d environments retired); next invocations cold-start", dropped)
        return dropped

    async def _watch_code(self) -> None:
        dirs = {spec.code_dir for spec in self.model.functions.values()}

        def snapshot() -> float:
            latest = 0.0
            for directory in dirs:
                for path in directory.rglob("*.py"):
                    with contextlib.suppress(OSError):
                        latest = max(latest, path.stat().st_mtime)
            return latest

        loop = asyncio.get_running_loop()
        seen = await loop.run_in_executor(None, snapshot)
        while True:
            await asyncio.sleep(self.config.reload_interval)
            current = await loop.run_in_executor(None, snapshot)
            if current != seen:
                seen = current
                self.reload()

    # --- run ------------------------------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """The startup lines: what is served where, what backs it, and what is not emulated."""
        return [
            f"template {self.config.template}",
            *self._describe_apis(),
            *self._describe_local_services(),
            *self._describe_runtime(),
            *self._describe_notices(),
        ]

    def _describe_apis(self) -> list[str]:
        lines: list[str] = []
        api = self.model.websocket
        base = f"{self.config.host}:{self.config.port}"
        if api is not None:
            lines.append(f"WebSocket API {api.logical_id}: ws://{base}/{self.stage} (also ws://{base}/)")
            lines.append(f"  route selection: {api.route_selection_expression}")
            for key, route in sorted(api.routes.items()):
                extras = (" (two-way)" if route.two_way else "") + (
                    f" (authorizer {route.authorizer.name})" if route.authorizer else ""
                )
                lines.append(f"  {key:<16} -> {route.function or '(not emulated)'}{extras}")
            lines.append(f"@connections: http://{base}/{self.stage}/@connections/{{connectionId}}")
        lines.extend(f"HTTP {route.route_key:<40} -> {route.function}" for route in self.model.http_routes)
        for rest_route in self.model.rest_routes:
            key = f"{rest_route.method} {rest_route.path}"
            lines.append(f"REST {key:<40} -> {rest_route.function} (also under /{rest_route.stage})")
        return lines

    def _describe_runtime(self) -> list[str]:
        lines: list[str] = []
        for schedule in self.model.schedules:
            state = "enabled" if schedule.enabled and self.config.schedules == "on" else "manual"
            lines.append(f"schedule {schedule.name} {schedule.expression} -> {schedule.function} ({state})")
        lines.append(f"Redis: {self.redis_source}" + (f" ({self.redis_url})" if self.redis_url else ""))
        if self.config.in_process:
            lines.append("functions: IN-PROCESS (threads of the gateway; a debugging aid, not Lambda's model)")
        else:
            lines.append(
                f"functions: execution environments (worker processes, runtime client {self.runtime_client}), "
                f"up to {self.config.max_environments} per function, stopped after "
                f"{self.config.environment_idle_timeout:g} s idle"
            )
        return lines

    def _describe_notices(self) -> list[str]:
        lines: list[str] = []
        if self.gateway.faults:
            lines.append(f"FAULT INJECTION ON: {[r.text for r in self.gateway.faults.rules]}")
        for function, variables in sorted(self.rewritten.items()):
            lines.extend(f"API URL rewritten: {function} {name}={value}" for name, value in sorted(variables.items()))
        lines.extend(f"RUNTIME: {line}" for line in runtime_mismatches(self.model.functions.values()))
        lines.extend(f"NOT EMULATED: {warning}" for warning in self.model.warnings)
        return lines

    def _describe_local_services(self) -> list[str]:
        lines: list[str] = []
        if self.tls is not None and self.domain_name is not None:
            secure = self.domain_name
            if self.model.websocket is not None:
                lines.append(f"TLS: wss://{secure}/{self.stage}, https://{secure}/{self.stage}/@connections/{{id}}")
                lines.append(f"  requestContext.domainName: {secure}")
            lines.append(f"  local CA: {self.tls.ca_cert} (functions trust it via AWS_CA_BUNDLE, SSL_CERT_FILE)")
        if self.config.lambda_api:
            base = f"http://{loopback_authority(self.config.host, self.config.port)}"
            lines.append(f"Lambda Invoke API: {base} (AWS_ENDPOINT_URL_LAMBDA)")
        if self.aws is not None:
            state = f"kept in {self.config.aws_state}" if self.config.aws_state else "in memory"
            lines.append(f"AWS resources: moto at {self.aws.url} (AWS_ENDPOINT_URL), state {state}")
            lines.extend(f"  backed: {created}" for created in self.aws.created)
            lines.extend(f"  NOT CREATED: {failed}" for failed in self.aws.failed)
        return lines

    async def serve(self) -> None:
        app = self.app
        for line in self.describe():
            log.info("%s", line)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=5.0,
            keepalive_timeout=self.config.http_idle_timeout,
        )
        await runner.setup()
        aiohttp_server = runner.server
        assert aiohttp_server is not None
        loop = asyncio.get_running_loop()
        lanes: weakref.WeakSet[FastLane] = weakref.WeakSet()
        listener = await loop.create_server(
            lambda: FastLane(aiohttp_server, self.management, self.local_only, lanes), sock=self.sock, backlog=1024
        )
        listeners = [listener]
        if self.tls_sock is not None and self.tls is not None:
            listeners.append(
                await loop.create_server(
                    lambda: FastLane(aiohttp_server, self.management, self.local_only, lanes),
                    sock=self.tls_sock,
                    backlog=1024,
                    ssl=self.tls.server_context(),
                    ssl_handshake_timeout=self.config.header_timeout,
                )
            )
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._stop.set)
        await self.gateway.invoker.start()
        chores = BackgroundTasks()
        chores.spawn(self.websocket.sweep_forever())
        chores.spawn(_close_expired(lanes))
        if self.config.schedules == "on":
            self.schedules.start()
        if self.config.reload:
            chores.spawn(self._watch_code())
        tls = f" tls {self.tls_port}" if self.tls is not None else ""
        print(f"{READY_MARKER} on http://{self.config.host}:{self.config.port} stage {self.stage}{tls}", flush=True)
        try:
            await self._stop.wait()
        finally:
            log.info("shutting down: closing connections")
            await self.websocket.shutdown()
            await self.schedules.stop()
            await chores.cancel()
            for each in listeners:
                each.close()
            for lane in list(lanes):
                lane.close()
            await runner.cleanup()
            await self.gateway.background.wait(5)
            await self.gateway.invoker.shutdown()
            self.close()
            log.info("stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Stop the Redis and moto the gateway started and close its listening sockets (again: nothing)."""
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        for sock in (self.sock, self.tls_sock):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
