"""HTTP APIs (API Gateway v2, ``$default`` stage): route matching, payload format 2.0, response mapping."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from multidict import CIMultiDict

from local.clock import now_ms
from local.event_payloads import http_v2_event
from local.gateway import Gateway
from local.ids import gateway_id
from local.invocation import InvocationError
from local.logsafe import printable
from local.model import HttpRoute

log = logging.getLogger("local.http")

_PARAMETER = re.compile(r"\{([^}+]+)(\+?)\}")


class Routable(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


R = TypeVar("R", bound=Routable)


@dataclass(frozen=True, slots=True)
class CompiledRoute(Generic[R]):
    route: R
    pattern: re.Pattern[str] | None
    rank: tuple[int, int, int, int]


def _compile(route: R) -> CompiledRoute[R]:
    if route.path == "$default":
        return CompiledRoute(route, None, (3, 0, 0, 0))
    regex, position, greedy, literal = "", 0, 0, 0
    for match in _PARAMETER.finditer(route.path):
        regex += re.escape(route.path[position : match.start()])
        literal += len(route.path[position : match.start()])
        name = match.group(1)
        if match.group(2):
            regex += f"(?P<{name}>.+)"
            greedy = 1
        else:
            regex += f"(?P<{name}>[^/]+)"
        position = match.end()
    regex += re.escape(route.path[position:])
    literal += len(route.path[position:])
    has_parameters = 1 if position else 0
    any_method = 1 if route.method == "ANY" else 0
    return CompiledRoute(route, re.compile(f"^{regex}$"), (greedy, has_parameters, -literal, any_method))


class HttpRouter(Generic[R]):
    """Routes by path (the most specific first: literal, then parameters, then greedy ``{proxy+}``) and method."""

    def __init__(self, routes: Iterable[R]) -> None:
        self.routes = sorted((_compile(r) for r in routes), key=lambda c: c.rank)

    def match(self, method: str, path: str) -> tuple[R, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.pattern is None:
                return compiled.route, {}
            found = compiled.pattern.match(path)
            if found is None:
                continue
            if compiled.route.method in (method, "ANY"):
                return compiled.route, found.groupdict()
        return None


def map_response(result: Any) -> tuple[int, CIMultiDict[str], bytes]:
    """A function's result as HTTP API answers it (payload format 2.0)."""
    headers: CIMultiDict[str] = CIMultiDict()
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        for name, value in (result.get("headers") or {}).items():
            headers.add(str(name), str(value))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values or []:
                headers.add(str(name), str(value))
        for cookie in result.get("cookies") or []:
            headers.add("Set-Cookie", str(cookie))
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(str(body))
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        if "content-type" not in headers and data:
            headers["Content-Type"] = "application/json"
        return status, headers, data
    headers["Content-Type"] = "application/json"
    data = result.encode("utf-8") if isinstance(result, str) else json.dumps(result).encode("utf-8")
    return 200, headers, data


class HttpApiService:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.router = HttpRouter[HttpRoute](gateway.model.http_routes)

    def match(self, request: web.Request) -> tuple[HttpRoute, dict[str, str]] | None:
        return self.router.match(request.method, request.path)

    async def handle(self, request: web.Request, route: HttpRoute, params: Mapping[str, str]) -> web.Response:
        gw = self.gw
        started = time.perf_counter()
        body = await request.read()
        peername = request.transport.get_extra_info("peername") if request.transport else None
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        event = http_v2_event(
            route_key=route.route_key,
            method=request.method,
            raw_path=request.path,
            raw_query=request.query_string,
            headers=raw_headers,
            body=body,
            path_parameters=params,
            source_ip=str(peername[0]) if peername else "127.0.0.1",
            domain_name=request.host,
            api_id=route.api_id,
            account_id=gw.model.account_id,
            now_ms=now_ms(),
            request_id=gateway_id(),
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        try:
            result = await gw.invoker.invoke(route.function, event, timeout=gw.config.integration_timeout)
        except InvocationError as error:
            if error.timed_out:
                status, headers, data = 503, CIMultiDict[str](), b'{"message":"Service Unavailable"}'
            else:
                status, headers, data = 500, CIMultiDict[str](), b'{"message":"Internal Server Error"}'
            headers["Content-Type"] = "application/json"
            detail = f" ({printable(error.kind)}: {printable(error.message)})"
        else:
            try:
                status, headers, data = map_response(result)
                detail = ""
            except (TypeError, ValueError) as error:
                status, headers, data = 500, CIMultiDict[str](), b'{"message":"Internal Server Error"}'
                headers["Content-Type"] = "application/json"
                detail = f" (malformed response: {printable(error)})"
        headers["apigw-requestid"] = event["requestContext"]["requestId"]
        log.info(
            "HTTP       %s %s -> %s %d %.1f ms%s",
            printable(request.method),
            printable(request.path_qs),
            route.function,
            status,
            (time.perf_counter() - started) * 1000,
            detail,
        )
        return web.Response(status=status, headers=headers, body=data)
