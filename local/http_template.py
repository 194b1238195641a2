"""A template's HTTP APIs (``AWS::ApiGatewayV2::Api`` other than WebSocket): routes from an OpenAPI ``Body`` (what
SAM's ``AWS::Serverless::HttpApi`` expands to) and ``AWS::ApiGatewayV2::Route`` resources with Lambda proxy
integrations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local import openapi
from local.intrinsics import local_api_id
from local.model import HttpRoute
from local.template_view import TemplateView


def http_routes(view: TemplateView) -> list[HttpRoute]:
    routes: list[HttpRoute] = []
    for logical_id, props in view.of_type("AWS::ApiGatewayV2::Api"):
        if props.get("ProtocolType") == "WEBSOCKET":
            continue
        api_id = local_api_id(logical_id)
        body = props.get("Body")
        if isinstance(body, dict):
            routes.extend(_openapi_routes(view, logical_id, api_id, body))
        routes.extend(_route_resources(view, logical_id, api_id))
    return routes


def _route_resources(view: TemplateView, logical_id: str, api_id: str) -> list[HttpRoute]:
    routes: list[HttpRoute] = []
    integrations = view.integrations_of(logical_id)
    for route_id, route, key in view.routes_of(logical_id):
        integration = integrations.get(view.integration_id(route.get("Target", "")))
        if integration is None:
            view.warnings.append(f"{route_id}: integration not found; not served")
            continue
        function = view.function_of_uri(integration.get("IntegrationUri"), route_id)
        if function is None:
            continue
        method, _, path = key.partition(" ")
        version = str(integration.get("PayloadFormatVersion", "2.0"))
        if key == "$default":
            method, path = "ANY", "$default"
        routes.append(HttpRoute(method.upper(), path, function, version, api_id))
    return routes


def _openapi_routes(view: TemplateView, logical_id: str, api_id: str, body: Mapping[str, Any]) -> list[HttpRoute]:
    routes: list[HttpRoute] = []
    for path, verb, operation in openapi.operations(body):
        integration = operation.get("x-amazon-apigateway-integration")
        if not isinstance(integration, dict):
            continue
        where = f"{logical_id} {verb} {path}"
        if str(integration.get("type", "")).lower() != "aws_proxy":
            view.warnings.append(f"{where}: integration type {integration.get('type')} not emulated")
            continue
        function = view.function_of_uri(integration.get("uri"), where)
        if function is None:
            continue
        version = str(integration.get("payloadFormatVersion", "2.0"))
        routes.append(HttpRoute(verb, path, function, version, api_id))
    return routes
