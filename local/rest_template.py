"""REST APIs (API Gateway v1) in a template: ``AWS::ApiGateway::RestApi`` with an OpenAPI ``Body`` (what SAM's
``AWS::Serverless::Api`` and ``Events: Api`` expand to) or a tree of ``AWS::ApiGateway::Resource`` and ``Method``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from local import openapi
from local.intrinsics import Resolver, local_api_id
from local.model import RestRoute
from local.template_view import ref_target

_DEFAULT_STAGE = "Prod"

OfType = Callable[[str], list[tuple[str, dict[str, Any]]]]
FunctionOfUri = Callable[[Any, str], "str | None"]


def rest_stages(of_type: OfType, resolver: Resolver) -> dict[str, list[str]]:
    """Each REST API's stage names (its Stages, else its Deployments' ``StageName``)."""
    stages: dict[str, list[str]] = {}
    for kind in ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment"):
        for _, props in of_type(kind):
            name = props.get("StageName")
            api = ref_target(props.get("RestApiId"))
            if name is not None and (kind.endswith("Stage") or api not in stages):
                stages.setdefault(api, []).append(resolver.to_string(name))
    return stages


class RestRoutes:
    """Reads every REST API's methods with a Lambda proxy integration; names what it cannot serve."""

    def __init__(
        self, of_type: OfType, resolver: Resolver, function_of_uri: FunctionOfUri, warnings: list[str]
    ) -> None:
        self.of_type = of_type
        self.resolver = resolver
        self.function_of_uri = function_of_uri
        self.warnings = warnings

    def build(self) -> tuple[list[RestRoute], dict[str, list[str]]]:
        stages = rest_stages(self.of_type, self.resolver)
        routes: list[RestRoute] = []
        for logical_id, props in self.of_type("AWS::ApiGateway::RestApi"):
            stage = (stages.get(logical_id) or [_DEFAULT_STAGE])[0]
            api_id = local_api_id(logical_id)
            if props.get("BinaryMediaTypes"):
                self.warnings.append(f"{logical_id}: BinaryMediaTypes are not emulated (bodies are passed as text)")
            body = props.get("Body")
            if isinstance(body, dict):
                routes.extend(self._openapi(logical_id, api_id, stage, body))
            routes.extend(self._methods(logical_id, api_id, stage))
        return routes, stages

    def _route(self, where: str, integration: Mapping[str, Any], uri_key: str) -> str | None:
        kind = str(self.resolver.resolve(integration.get("type", integration.get("Type", "")))).lower()
        if kind != "aws_proxy":
            self.warnings.append(f"{where}: integration type {kind or '(none)'} not emulated (AWS_PROXY only)")
            return None
        return self.function_of_uri(integration.get(uri_key), where)

    def _openapi(self, logical_id: str, api_id: str, stage: str, body: Mapping[str, Any]) -> list[RestRoute]:
        routes: list[RestRoute] = []
        for path, verb, operation in openapi.operations(body):
            where = f"{logical_id} {verb} {path}"
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                self.warnings.append(f"{where}: no Lambda proxy integration; not served")
                continue
            if any(name != "api_key" for entry in operation.get("security") or [] for name in entry):
                self.warnings.append(f"{where}: REST API authorizers are not emulated; route left open")
            function = self._route(where, integration, "uri")
            if function is not None:
                routes.append(RestRoute(verb, path, function, api_id, stage))
        return routes

    def _methods(self, logical_id: str, api_id: str, stage: str) -> list[RestRoute]:
        parts = {
            lid: p
            for lid, p in self.of_type("AWS::ApiGateway::Resource")
            if ref_target(p.get("RestApiId")) == logical_id
        }

        def path_of(resource_id: str, depth: int = 0) -> str:
            props = parts.get(resource_id)
            if props is None or depth > 64:  # the API's root resource (GetAtt Api.RootResourceId)
                return ""
            parent = path_of(ref_target(props.get("ParentId")), depth + 1)
            return parent + "/" + self.resolver.to_string(props.get("PathPart"))

        routes: list[RestRoute] = []
        for method_id, props in self.of_type("AWS::ApiGateway::Method"):
            if ref_target(props.get("RestApiId")) != logical_id:
                continue
            path = path_of(ref_target(props.get("ResourceId"))) or "/"
            verb = self.resolver.to_string(props.get("HttpMethod", "ANY")).upper()
            if str(self.resolver.resolve(props.get("AuthorizationType", "NONE"))) != "NONE":
                self.warnings.append(f"{method_id}: REST API authorization is not emulated; route left open")
            function = self._route(method_id, props.get("Integration") or {}, "Uri")
            if function is not None:
                routes.append(RestRoute(verb, path, function, api_id, stage))
        return routes
