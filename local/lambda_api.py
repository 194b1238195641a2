"""Lambda's Invoke API (``POST /2015-03-31/functions/{name}/invocations``), for boto3's lambda client."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import unquote

from aiohttp import web

from local.gateway import Gateway
from local.ids import lambda_request_id
from local.invocation import InvocationError
from local.logsafe import printable
from local.model import FunctionSpec

log = logging.getLogger("local.lambda")


def _error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response(
        {"Type": "User", "message": message},
        status=status,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": lambda_request_id()},
    )


class LambdaApi:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        functions = gateway.model.functions
        self.by_name = {**functions, **{spec.name: spec for spec in functions.values()}}

    def _function(self, name: str) -> FunctionSpec | None:
        name = unquote(name)
        if name.startswith("arn:"):
            name = name.split(":function:", 1)[-1].split(":", 1)[0]
        return self.by_name.get(name)

    async def invoke(self, request: web.Request) -> web.Response:
        spec = self._function(request.match_info["name"])
        if spec is None:
            return _error(404, "ResourceNotFoundException", f"Function not found: {request.match_info['name']}")
        raw = await request.read()
        try:
            event = json.loads(raw) if raw else {}
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        logical_id = spec.logical_id
        if kind == "DryRun":
            return web.Response(status=204)
        if kind == "Event":
            self.gw.background.spawn(self._run(logical_id, event, "Event"))
            return web.Response(status=202)
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": lambda_request_id()}
        try:
            result = await self._run(logical_id, event, "RequestResponse", raise_errors=True)
        except InvocationError as error:
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = {"errorMessage": error.message, "errorType": error.kind, "stackTrace": []}
            return web.json_response(body, headers=headers)
        return web.Response(body=json.dumps(result).encode(), content_type="application/json", headers=headers)

    async def _run(self, logical_id: str, event: object, kind: str, raise_errors: bool = False) -> object:
        started = time.perf_counter()
        try:
            result = await self.gw.invoker.invoke(logical_id, event)
        except InvocationError as error:
            log.info(
                "INVOKE     %s (%s) -> error %s: %s", logical_id, kind, printable(error.kind), printable(error.message)
            )
            if raise_errors:
                raise
            return None
        log.info("INVOKE     %s (%s) -> ok %.1f ms", logical_id, kind, (time.perf_counter() - started) * 1000)
        return result
