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

from aiohttp import web

from local.admin import AdminService
from local.clock import now_ms
from local.config import GatewayConfig
from local.environments import function_environment, wants_redis
from local.events import schedule_payload
from local.fastlane import FastLane
from local.gateway import Gateway
from local.guard import LocalOnly
from local.httpapi import HttpApiService
from local.invocation import InvocationError, Invoker
from local.lambda_api import LambdaApi
from local.logsafe import printable
from local.management import ManagementService
from local.model import AppModel, ScheduleSpec
from local.pool import EnvironmentInvoker
from local.redis_server import RedisServer
from local.runtime import InProcessInvoker
from local.sandbox import runtime_command
from local.schedules import ScheduleRunner
from local.template import load_app
from local.websocket import WebSocketService

log = logging.getLogger("local")

READY_MARKER = "local gateway ready"


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
    """Everything the gateway runs, built from a config; :meth:`serve` runs until stopped."""

    def __init__(self, config: GatewayConfig, shell: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.shell = dict(os.environ if shell is None else shell)
        self.model: AppModel = load_app(
            Path(config.template),
            overrides=config.parameter_overrides,
            region=config.region,
            account_id=config.account_id,
        )
        websocket = self.model.websocket
        self.stage = config.stage or (websocket.stage_name if websocket and websocket.stage_name else "dev")
        self.sock = bind_socket(config.host, config.port)
        config.port = int(self.sock.getsockname()[1])
        self.redis: RedisServer | None = None
        self.redis_url: str | None = None
        self.redis_source = "none"
        self.gateway: Gateway | None = None
        self.runtime_client = "in-process"
        self._stop = asyncio.Event()

    # --- setup ----------------------------------------------------------------------------------------------

    def _environments(self, redis_url: str | None) -> dict[str, dict[str, str]]:
        endpoint = f"http://{self.config.host}:{self.config.port}/{self.stage}"
        return {
            lid: function_environment(
                spec,
                shell=self.shell,
                env_vars=self.config.env_vars,
                region=self.config.region,
                gateway={"WEBSOCKET_API_ENDPOINT": endpoint},
                redis_url=redis_url,
            )
            for lid, spec in self.model.functions.items()
        }

    def _start_redis(self) -> dict[str, dict[str, str]]:
        configured = self.shell.get("REDIS_URL", "")
        if configured and self.config.redis != "embedded":
            self.redis_url, self.redis_source = configured, "REDIS_URL from the environment"
            return self._environments(configured)
        envs = self._environments(None)
        if self.config.redis == "off":
            return envs
        if self.config.redis == "embedded" or wants_redis(self.model.functions, envs):
            self.redis = RedisServer().start()
            self.redis_url, self.redis_source = self.redis.url, "embedded redis-server started by the gateway"
            envs = self._environments(self.redis_url)
            for env in envs.values():
                env["REDIS_URL"] = self.redis_url
        return envs

    def _invoker(self, envs: dict[str, dict[str, str]]) -> Invoker:
        config = self.config
        if config.in_process:
            return InProcessInvoker(self.model.functions, envs)
        client = resolve_runtime_client(config.runtime_client)
        self.runtime_client = client
        return EnvironmentInvoker(
            self.model.functions,
            envs,
            command=lambda spec: runtime_command(client, spec.handler),
            limit=config.max_environments,
            idle_timeout=config.environment_idle_timeout,
        )

    def build(self) -> web.Application:
        envs = self._start_redis()
        invoker = self._invoker(envs)
        gateway = Gateway(self.config, self.model, invoker, self.stage)
        self.gateway = gateway
        self.websocket = WebSocketService(gateway)
        self.management = ManagementService(gateway, self.websocket)
        self.http = HttpApiService(gateway)
        self.lambda_api = LambdaApi(gateway)
        self.admin = AdminService(gateway, self.fire_schedule, self.reload)
        self.schedules = ScheduleRunner(self.model.schedules, self.fire_schedule, self.config.schedule_speed)

        app = web.Application(client_max_size=16 * 1024 * 1024, handler_args={"max_field_size": 65536})
        local_only = self.local_only = LocalOnly(self.config.allowed_hosts)
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
        if is_ws_path:
            return web.Response(status=426, text="Upgrade Required", headers={"Upgrade": "websocket"})
        return web.json_response({"message": "Not Found"}, status=404)

    async def fire_schedule(self, schedule: ScheduleSpec) -> None:
        assert self.gateway is not None
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
        assert self.gateway is not None
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
        lines = [f"template {self.config.template}"]
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
        for http_route in self.model.http_routes:
            lines.append(f"HTTP {http_route.route_key:<40} -> {http_route.function}")
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
        if self.gateway and self.gateway.faults:
            lines.append(f"FAULT INJECTION ON: {[r.text for r in self.gateway.faults.rules]}")
        for warning in self.model.warnings:
            lines.append(f"NOT EMULATED: {warning}")
        return lines

    async def serve(self) -> None:
        app = self.build()
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
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._stop.set)
        assert self.gateway is not None
        await self.gateway.invoker.start()
        tasks = [asyncio.create_task(self.websocket.sweep_forever()), asyncio.create_task(_close_expired(lanes))]
        if self.config.schedules == "on":
            self.schedules.start()
        if self.config.reload:
            tasks.append(asyncio.create_task(self._watch_code()))
        print(f"{READY_MARKER} on http://{self.config.host}:{self.config.port} stage {self.stage}", flush=True)
        try:
            await self._stop.wait()
        finally:
            log.info("shutting down: closing connections")
            await self.websocket.shutdown()
            await self.schedules.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            listener.close()
            for lane in list(lanes):
                lane.close()
            await runner.cleanup()
            assert self.gateway is not None
            if self.gateway.background:
                await asyncio.wait(list(self.gateway.background), timeout=5)
            await self.gateway.invoker.shutdown()
            self.close()
            log.info("stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        with contextlib.suppress(OSError):
            self.sock.close()
