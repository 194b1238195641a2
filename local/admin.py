"""Admin endpoints under ``/__local/`` (not part of API Gateway): readiness, connections, execution
environments, metrics, schedules, faults, reload."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from local.faults import FaultRuleError
from local.gateway import Gateway
from local.logsafe import printable
from local.model import ScheduleSpec

log = logging.getLogger("local")

SETTLE_LIMIT_S = 60.0


class AdminService:
    def __init__(
        self,
        gateway: Gateway,
        fire_schedule: Callable[[ScheduleSpec], Awaitable[None]],
        reload: Callable[[], int],
    ) -> None:
        self.gw = gateway
        self.fire_schedule = fire_schedule
        self.reload_code = reload

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/__local/health", self.health),
            web.get("/__local/connections", self.connections),
            web.get("/__local/environments", self.environments),
            web.get("/__local/metrics", self.metrics),
            web.get("/__local/schedules", self.schedules),
            web.post("/__local/schedules/{name}", self.trigger),
            web.get("/__local/faults", self.faults),
            web.post("/__local/faults", self.set_faults),
            web.delete("/__local/faults", self.clear_faults),
            web.post("/__local/reload", self.reload),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "stage": self.gw.stage,
                "connections": len(self.gw.connections),
                "managementEndpoint": self.gw.management_endpoint,
            }
        )

    async def connections(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"connectionId": c.id, "state": c.state, "connectedAt": c.peer.connected_at}
                for c in self.gw.connections.values()
            ]
        )

    async def environments(self, request: web.Request) -> web.Response:
        """``?wait=settled``: answer once no environment is starting or running an invocation and none is awaited
        (504 after ``SETTLE_LIMIT_S``): a benchmark's or a test's "the stack is quiet", without polling."""
        wait = request.query.get("wait")
        if wait not in (None, "settled"):
            return web.json_response({"message": f"wait={printable(wait)}: only wait=settled is known"}, status=400)
        if wait == "settled":
            try:
                await asyncio.wait_for(self.gw.invoker.settled(), SETTLE_LIMIT_S)
            except asyncio.TimeoutError:
                busy = {"message": f"environments still busy after {SETTLE_LIMIT_S:g} s"}
                return web.json_response({**busy, "environments": self.gw.invoker.environments()}, status=504)
        return web.json_response(self.gw.invoker.environments())

    async def metrics(self, request: web.Request) -> web.Response:
        return web.json_response(self.gw.invoker.metrics())

    async def schedules(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"name": s.name, "function": s.function, "expression": s.expression, "enabled": s.enabled}
                for s in self.gw.model.schedules
            ]
        )

    async def trigger(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        matching = [s for s in self.gw.model.schedules if s.name == name]
        if not matching:
            return web.json_response({"message": f"no schedule {name}"}, status=404)
        for schedule in matching:
            await self.fire_schedule(schedule)
        return web.json_response({"fired": name, "targets": [s.function for s in matching]})

    async def faults(self, request: web.Request) -> web.Response:
        return web.json_response({"rules": self.gw.faults.describe()})

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
            rules = payload["rules"]
            if not isinstance(rules, list):
                raise TypeError("rules must be a list")
            if payload.get("replace", True):
                self.gw.faults.set([str(rule) for rule in rules])
            else:
                self.gw.faults.add([str(rule) for rule in rules])
        except (ValueError, KeyError, TypeError, FaultRuleError, json.JSONDecodeError) as error:
            return web.json_response({"message": str(error)}, status=400)
        log.info("FAULTS     %s", printable([rule.text for rule in self.gw.faults.rules]))
        return web.json_response({"rules": self.gw.faults.describe()})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.gw.faults.clear()
        log.info("FAULTS     cleared")
        return web.json_response({"rules": []})

    async def reload(self, request: web.Request) -> web.Response:
        dropped = self.reload_code()
        return web.json_response({"reloaded": dropped})
