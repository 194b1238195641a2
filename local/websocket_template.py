"""A template's WebSocket API (``AWS::ApiGatewayV2::Api``, ``ProtocolType: WEBSOCKET``): its routes, their
Lambda proxy integrations, two-way route responses, ``REQUEST`` authorizers and stage."""

from __future__ import annotations

from collections.abc import Mapping

from local.intrinsics import local_api_id
from local.model import AuthorizerSpec, WebSocketApiSpec, WsRoute
from local.template_view import Properties, TemplateView


def websocket_api(view: TemplateView) -> WebSocketApiSpec | None:
    """The template's WebSocket API (the first one: only one is served), or None."""
    apis = [(lid, p) for lid, p in view.of_type("AWS::ApiGatewayV2::Api") if p.get("ProtocolType") == "WEBSOCKET"]
    if not apis:
        return None
    logical_id, props = apis[0]
    for other, _ in apis[1:]:
        view.warnings.append(f"{other}: only one WebSocket API is served ({logical_id}); ignored")
    stages = view.of_api("AWS::ApiGatewayV2::Stage", logical_id)
    return WebSocketApiSpec(
        logical_id=logical_id,
        api_id=local_api_id(logical_id),
        name=view.resolver.to_string(props.get("Name", logical_id)),
        route_selection_expression=str(props.get("RouteSelectionExpression", "$request.body.action")),
        routes=_routes(view, logical_id),
        stage_name=str(view.resolver.resolve(stages[0][1].get("StageName"))) if stages else None,
    )


def _routes(view: TemplateView, api_logical_id: str) -> dict[str, WsRoute]:
    integrations = view.integrations_of(api_logical_id)
    authorizers = _authorizers(view, api_logical_id)
    two_way = {
        str(view.resolver.resolve(p.get("RouteId")))
        for _, p in view.of_type("AWS::ApiGatewayV2::RouteResponse")
        if p.get("RouteResponseKey") == "$default"
    }
    routes: dict[str, WsRoute] = {}
    for route_id, route, key in view.routes_of(api_logical_id):
        function = _route_function(view, route_id, route, integrations)
        authorizer = _route_authorizer(view, route_id, route, authorizers)
        routes[key] = WsRoute(key, function, route_id in two_way, authorizer)
    return routes


def _route_authorizer(
    view: TemplateView, route_id: str, route: Properties, authorizers: Mapping[str, AuthorizerSpec]
) -> AuthorizerSpec | None:
    auth_type = str(view.resolver.resolve(route.get("AuthorizationType", "NONE")))
    if auth_type == "CUSTOM":
        authorizer = authorizers.get(str(view.resolver.resolve(route.get("AuthorizerId"))))
        if authorizer is None:
            view.warnings.append(f"{route_id}: its authorizer is not emulated; route left open")
        return authorizer
    if auth_type == "AWS_IAM":
        view.warnings.append(f"{route_id}: AWS_IAM authorization is not emulated; route left open")
    return None


def _route_function(
    view: TemplateView, route_id: str, route: Properties, integrations: Mapping[str, Properties]
) -> str | None:
    target = route.get("Target")
    if target is None:
        view.warnings.append(f"{route_id}: route without integration; messages to it are dropped")
        return None
    integration_id = view.integration_id(target)
    integration = integrations.get(integration_id)
    if integration is None:
        view.warnings.append(f"{route_id}: integration {integration_id} not found")
        return None
    kind = str(integration.get("IntegrationType", ""))
    if kind != "AWS_PROXY":
        view.warnings.append(f"{route_id}: integration type {kind} is not emulated (AWS_PROXY only)")
        return None
    return view.function_of_uri(integration.get("IntegrationUri"), route_id)


def _authorizers(view: TemplateView, api_logical_id: str) -> dict[str, AuthorizerSpec]:
    found: dict[str, AuthorizerSpec] = {}
    for logical_id, props in view.of_api("AWS::ApiGatewayV2::Authorizer", api_logical_id):
        if props.get("AuthorizerType") != "REQUEST":
            view.warnings.append(f"{logical_id}: authorizer type {props.get('AuthorizerType')} not emulated")
            continue
        function = view.function_of_uri(props.get("AuthorizerUri"), logical_id)
        if function is None:
            continue
        sources = view.resolver.resolve(props.get("IdentitySource") or [])
        found[logical_id] = AuthorizerSpec(
            logical_id=logical_id,
            name=view.resolver.to_string(props.get("Name", logical_id)),
            function=function,
            identity_sources=tuple(str(s) for s in sources),
        )
    return found
