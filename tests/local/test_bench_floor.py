"""The bench's floor (``python -m bench --only floor``): the service's WebSocket API with functions that do nothing.

Its figure means something only while the floor serves the connect scenario's protocol and stays the service's
API in everything but the functions' work.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import FLOOR_TEMPLATE, TEMPLATE, connect, token
from local.cfn_yaml import read_template
from local.testing import LocalGateway


def _websocket_api(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"].get("RouteResponseSelectionExpression")
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    api = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"
               and r["Properties"]["ProtocolType"] == "WEBSOCKET")  # fmt: skip
    responses = [r["Properties"]["RouteResponseKey"] for r in resources.values()
                 if r["Type"] == "AWS::ApiGatewayV2::RouteResponse"]  # fmt: skip
    function = {k: template["Globals"]["Function"][k] for k in ("Runtime", "MemorySize", "Timeout", "LoggingConfig")}
    return {"selection": api["RouteSelectionExpression"], "routes": routes, "responses": responses, **function}


def test_the_floor_is_the_services_websocket_api_with_other_functions() -> None:
    assert _websocket_api(read_template(FLOOR_TEMPLATE)) == _websocket_api(read_template(TEMPLATE))


async def test_the_floor_answers_the_connect_scenarios_hello() -> None:
    with LocalGateway(FLOOR_TEMPLATE, args=["--redis", "off", "--schedules", "off"]) as gateway:
        ws = await connect(gateway.ws_url, token("floor-tenant", "floor-user"))
        try:
            await ws.send(json.dumps({"action": "hello", "requestId": "again"}))
            assert json.loads(await ws.recv()) == {"event": "authenticated"}
        finally:
            await ws.close()
