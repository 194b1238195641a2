"""REST APIs (API Gateway v1) with Lambda proxy integrations: payload format 1.0, API Gateway's error answers.

Routes answer at their path (as ``sam local start-api`` serves them) and under their stage (``/Prod/items``, as the
deployed URL has it). Binary media types are off: request bodies reach the function as text, and a response's
``isBase64Encoded`` body is returned as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from local.clock import now_ms
from local.event_payloads import rest_v1_event
from local.gateway import Gateway
from local.httpapi import HttpRouter
from local.ids import gateway_id
from local.invocation import InvocationError
from local.logsafe import printable
from local.model import RestRoute

log = logging.getLogger("local.rest")


def api_error(status: int, error_type: str, message: str) -> web.Response:
    """An error as API Gateway's REST APIs answer it."""
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": error_type,
            "x-amzn-RequestId": str(uuid.uuid4()),
            "x-amz-apigw-id": gateway_id(),
        },
    )


def missing_authentication_token() -> web.Response:
    """A path and method no resource answers (API Gateway says 403, not 404)."""
    return api_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


class MalformedResponse(ValueError):
    """The function's result is not a Lambda proxy response."""


def map_rest_response(result: Any) -> tuple[int, CIMultiDict[str], bytes]:
    if not isinstance(result, dict):
        raise MalformedResponse(f"result is {type(result).__name__}, not an object")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r}")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponse(f"body is {type(body).__name__}, not a string")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in (result.get("headers") or {}).items():
        headers[str(name)] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values or []:
            headers.add(str(name), str(value))
    if "content-type" not in headers:
        headers["Content-Type"] = "application/json"
    return status, headers, (body or "").encode("utf-8")


class RestApiService:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.router = HttpRouter[RestRoute](gateway.model.rest_routes)
        self.stages = frozenset(route.stage for route in gateway.model.rest_routes)

    def match(self, request: web.Request) -> tuple[RestRoute, dict[str, str], str] | None:
        """(route, path parameters, path without the stage)."""
        path = request.path
        found = self.router.match(request.method, path)
        if found is None:
            stage, _, rest = path[1:].partition("/")
            if stage in self.stages:
                path = "/" + rest
                found = self.router.match(request.method, path)
                if found is not None and found[0].stage != stage:
                    found = None
        return None if found is None else (found[0], found[1], path)

    async def handle(self, request: web.Request, route: RestRoute, params: dict[str, str], path: str) -> web.Response:
        started = time.perf_counter()
        body = await request.read()
        peername = request.transport.get_extra_info("peername") if request.transport else None
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        request_id = str(uuid.uuid4())
        event = rest_v1_event(
            resource=route.path,
            method=request.method,
            path=path,
            stage=route.stage,
            raw_query=request.query_string,
            headers=raw_headers,
            body=body,
            path_parameters=params,
            source_ip=str(peername[0]) if peername else "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            domain_name=request.host,
            api_id=route.api_id,
            resource_id=hashlib.sha256(f"{route.api_id}{route.path}".encode()).hexdigest()[:6],
            account_id=self.gw.model.account_id,
            now_ms=now_ms(),
            request_id=request_id,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        detail = ""
        try:
            result = await self.gw.invoker.invoke(route.function, event, timeout=self.gw.config.integration_timeout)
            status, headers, data = map_rest_response(result)
            response = web.Response(status=status, headers=headers, body=data)
        except InvocationError as error:
            detail = f" ({printable(error.kind)}: {printable(error.message)})"
            if error.timed_out:
                response = api_error(504, "InternalServerErrorException", "Endpoint request timed out")
            else:
                response = api_error(502, "InternalServerErrorException", "Internal server error")
        except MalformedResponse as error:
            detail = f" (malformed Lambda proxy response: {printable(error)})"
            response = api_error(502, "InternalServerErrorException", "Internal server error")
        response.headers["x-amzn-RequestId"] = request_id
        log.info(
            "REST       %s %s -> %s %d %.1f ms%s",
            printable(request.method),
            printable(request.path_qs),
            route.function,
            response.status,
            (time.perf_counter() - started) * 1000,
            detail,
        )
        return response
