"""Loading a SAM template: YAML with CloudFormation tags → SAM transform → :class:`~local.model.AppModel`.

Like ``sam local``, local ``CodeUri`` values are swapped for a placeholder ``s3://`` URI before the transform
(the translator only accepts S3 locations) and remembered per function.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from local import openapi
from local.aws_resources import BACKED_TYPES
from local.intrinsics import Resolver, holds_placeholder, local_api_id
from local.model import (
    ApiAddress,
    AppModel,
    AuthorizerSpec,
    AwsResource,
    FunctionSpec,
    HttpRoute,
    ScheduleSpec,
    WebSocketApiSpec,
    WsRoute,
)
from local.rest_template import RestRoutes

DEFAULT_ACCOUNT_ID = "123456789012"
_FUNCTION_IN_URI = re.compile(r":function:([^/:]+)")
_SUPPORTED_TYPES = {
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::IntegrationResponse",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::Events::Rule",
    "AWS::Scheduler::Schedule",
    "AWS::Logs::LogGroup",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Deployment",
    *BACKED_TYPES,
}


class TemplateError(ValueError):
    """The template cannot be served."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short-form tags (``!Ref``, ``!Sub``, …)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _construct_tag)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def read_template(path: Path) -> dict[str, Any]:
    try:
        data = read_template_like(path)
    except (yaml.YAMLError, ValueError) as error:
        raise TemplateError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return data


def _is_local_uri(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _swap_code_uris(template: dict[str, Any], base_dir: Path) -> dict[str, Path]:  # noqa: C901 - to split (complexity check introduced; see the tidy-up commits)
    """Replace local CodeUri values by placeholders; return each function's code directory."""
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    global_uri = globals_function.get("CodeUri")
    if _is_local_uri(global_uri):
        globals_function["CodeUri"] = "s3://local-code/globals"
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        uri = props.get("CodeUri", global_uri)
        if props.get("InlineCode") is not None:
            continue
        if _is_local_uri(uri):
            code_dirs[logical_id] = (base_dir / str(uri)).resolve()
            props["CodeUri"] = f"s3://local-code/{logical_id}"
        elif uri is None:
            code_dirs[logical_id] = base_dir.resolve()
            props["CodeUri"] = f"s3://local-code/{logical_id}"
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::Function" and _is_local_uri(props.get("Code")):
            # sam local accepts a local directory as a plain Lambda function's Code.
            code_dirs[logical_id] = (base_dir / str(props["Code"])).resolve()
            props["Code"] = {"S3Bucket": "local-code", "S3Key": logical_id}
        if resource.get("Type") in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
            definition = props.get("DefinitionUri")
            if _is_local_uri(definition):
                props["DefinitionBody"] = read_template_like(base_dir / str(definition))
                del props["DefinitionUri"]
    return code_dirs


def read_template_like(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_CfnLoader)  # noqa: S506


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def transform_template(template: dict[str, Any], parameter_values: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Expand the SAM transform, as a deployment would."""
    if "Transform" not in template:
        return template
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    try:
        expanded: dict[str, Any] = transform(template, dict(parameter_values), _NoManagedPolicies())
        return expanded
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise TemplateError(f"SAM transform failed: {causes}") from error


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str], warnings: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, definition in (template.get("Parameters") or {}).items():
        definition = definition or {}
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in definition:
            raw = definition["Default"]
        else:
            warnings.append(f"parameter {name} has no Default and no override; using an empty string")
            raw = ""
        kind = str(definition.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [item.strip() for item in str(raw).split(",")] if raw != "" else []
        else:
            values[name] = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, bool) else str(raw)
    for name in overrides:
        if name not in values:
            warnings.append(f"--parameter-overrides: {name} is not a parameter of the template")
    return values


def load_app(
    path: Path,
    *,
    overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_name: str = "local",
    aws_endpoint: str | None = None,
) -> AppModel:
    """Read, transform and resolve a SAM template into what the gateway serves."""
    path = path.resolve()
    raw = read_template(path)
    warnings: list[str] = []
    params = parameter_values(raw, overrides or {}, warnings)
    template = copy.deepcopy(raw)
    code_dirs = _swap_code_uris(template, path.parent)
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
    }
    expanded = transform_template(template, {**params, **pseudo}, region)
    resources: dict[str, Any] = expanded.get("Resources") or {}
    resolver = Resolver(
        resources=resources,
        parameters=params,
        conditions=expanded.get("Conditions") or {},
        mappings=expanded.get("Mappings") or {},
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        aws_endpoint=aws_endpoint,
    )
    builder = _Builder(resources, resolver, code_dirs, path.parent, warnings)
    model = builder.build(region, account_id)
    if resolver.unresolved:
        unique = sorted(set(resolver.unresolved))
        warnings.append("intrinsics resolved to placeholders: " + ", ".join(unique))
    return model


class _Builder:
    def __init__(
        self,
        resources: dict[str, Any],
        resolver: Resolver,
        code_dirs: dict[str, Path],
        base_dir: Path,
        warnings: list[str],
    ) -> None:
        self.resources = resources
        self.resolver = resolver
        self.code_dirs = code_dirs
        self.base_dir = base_dir
        self.warnings = warnings
        self.functions: dict[str, FunctionSpec] = {}
        self.function_by_name: dict[str, str] = {}

    def build(self, region: str, account_id: str) -> AppModel:
        active = {lid: res for lid, res in self.resources.items() if self._active(res)}
        self.resources = active
        for logical_id, resource in active.items():
            kind = resource.get("Type", "")
            if kind not in _SUPPORTED_TYPES:
                self.warnings.append(f"{logical_id} ({kind}) is not emulated")
            if kind == "AWS::Lambda::Function":
                spec = self._function(logical_id, resource.get("Properties") or {})
                if spec is not None:
                    self.functions[logical_id] = spec
                    self.function_by_name[spec.name] = logical_id
        websocket = self._websocket()
        http_routes = self._http_routes()
        rest = RestRoutes(self._of_type, self.resolver, self._function_of_uri, self.warnings)
        rest_routes, rest_stages = rest.build()
        schedules = self._schedules()
        return AppModel(
            functions=self.functions,
            websocket=websocket,
            http_routes=http_routes,
            schedules=schedules,
            region=region,
            account_id=account_id,
            warnings=self.warnings,
            rest_routes=rest_routes,
            apis=self._apis(rest_stages),
            aws_resources=[
                AwsResource(lid, kind, self.resolver.resolve(props), self._physical_name(lid))
                for kind in BACKED_TYPES
                for lid, props in self._of_type(kind)
            ],
        )

    def _physical_name(self, logical_id: str) -> str:
        backed = self.resolver.physical(logical_id)
        return logical_id if backed is None else backed.name

    def _apis(self, rest_stages: Mapping[str, list[str]]) -> list[ApiAddress]:
        apis = [
            ApiAddress(local_api_id(lid), "REST", lid, tuple(rest_stages.get(lid, ())))
            for lid, _ in self._of_type("AWS::ApiGateway::RestApi")
        ]
        for lid, props in self._of_type("AWS::ApiGatewayV2::Api"):
            stages = tuple(
                self.resolver.to_string(p.get("StageName"))
                for _, p in self._of_type("AWS::ApiGatewayV2::Stage")
                if self._api_of(p) == lid
            )
            kind = "WEBSOCKET" if props.get("ProtocolType") == "WEBSOCKET" else "HTTP"
            apis.append(ApiAddress(local_api_id(lid), kind, lid, stages))
        return apis

    def _active(self, resource: Any) -> bool:
        if not isinstance(resource, dict):
            return False
        condition = resource.get("Condition")
        return condition is None or self.resolver.condition(str(condition))

    def _props(self, logical_id: str) -> dict[str, Any]:
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        return props if isinstance(props, dict) else {}

    def _of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(lid, res.get("Properties") or {}) for lid, res in self.resources.items() if res.get("Type") == kind]

    # --- functions ------------------------------------------------------------------------------------------

    def _function(self, logical_id: str, props: dict[str, Any]) -> FunctionSpec | None:
        resolve = self.resolver.resolve
        if props.get("PackageType") == "Image":
            self.warnings.append(f"{logical_id}: container image functions are not emulated")
            return None
        code = props.get("Code") or {}
        code_dir = self.code_dirs.get(logical_id)
        if code_dir is None:
            if "ZipFile" in code:
                self.warnings.append(f"{logical_id}: inline code is not emulated")
            else:
                self.warnings.append(f"{logical_id}: code is not local (S3 location); not emulated")
            return None
        runtime = str(resolve(props.get("Runtime", "")))
        if not runtime.startswith("python"):
            self.warnings.append(f"{logical_id}: runtime {runtime or '(none)'} is not emulated (Python only)")
        variables = ((props.get("Environment") or {}).get("Variables")) or {}
        # A value made with what is not emulated (a cache's endpoint) is declared without one: the shell or
        # --env-vars can give it, and an empty REDIS_URL gets the embedded Redis.
        environment = {str(k): self.resolver.to_string(v) for k, v in variables.items()}
        environment = {name: "" if holds_placeholder(value) else value for name, value in environment.items()}
        return FunctionSpec(
            logical_id=logical_id,
            name=self.resolver.function_name(logical_id),
            handler=str(resolve(props.get("Handler", ""))),
            code_dir=code_dir,
            runtime=runtime,
            timeout=float(resolve(props.get("Timeout", 3))),
            memory_size=int(resolve(props.get("MemorySize", 128))),
            arn=self.resolver.function_arn(logical_id),
            environment=environment,
        )

    def _function_of_uri(self, uri: Any, where: str) -> str | None:
        resolved = self.resolver.to_string(uri)
        match = _FUNCTION_IN_URI.search(resolved)
        if match and match.group(1) in self.function_by_name:
            return self.function_by_name[match.group(1)]
        if match:
            self.warnings.append(f"{where}: function {match.group(1)} is not emulated")
        else:
            self.warnings.append(f"{where}: integration URI {resolved!r} is not a Lambda function")
        return None

    # --- WebSocket API --------------------------------------------------------------------------------------

    def _websocket(self) -> WebSocketApiSpec | None:
        apis = [
            (lid, props)
            for lid, props in self._of_type("AWS::ApiGatewayV2::Api")
            if props.get("ProtocolType") == "WEBSOCKET"
        ]
        if not apis:
            return None
        logical_id, props = apis[0]
        for other, _ in apis[1:]:
            self.warnings.append(f"{other}: only one WebSocket API is served ({logical_id}); ignored")
        integrations = {
            lid: p for lid, p in self._of_type("AWS::ApiGatewayV2::Integration") if self._api_of(p) == logical_id
        }
        authorizers = self._authorizers(logical_id)
        two_way = {
            str(self.resolver.resolve(p.get("RouteId")))
            for _, p in self._of_type("AWS::ApiGatewayV2::RouteResponse")
            if p.get("RouteResponseKey") == "$default"
        }
        routes: dict[str, WsRoute] = {}
        for route_id, route in self._of_type("AWS::ApiGatewayV2::Route"):
            if self._api_of(route) != logical_id:
                continue
            key = str(self.resolver.resolve(route.get("RouteKey")))
            function = self._route_function(route_id, route, integrations)
            authorizer = None
            auth_type = str(self.resolver.resolve(route.get("AuthorizationType", "NONE")))
            if auth_type == "CUSTOM":
                authorizer = authorizers.get(str(self.resolver.resolve(route.get("AuthorizerId"))))
                if authorizer is None:
                    self.warnings.append(f"{route_id}: its authorizer is not emulated; route left open")
            elif auth_type == "AWS_IAM":
                self.warnings.append(f"{route_id}: AWS_IAM authorization is not emulated; route left open")
            routes[key] = WsRoute(key, function, route_id in two_way, authorizer)
        stages = [p for _, p in self._of_type("AWS::ApiGatewayV2::Stage") if self._api_of(p) == logical_id]
        stage_name = str(self.resolver.resolve(stages[0].get("StageName"))) if stages else None
        return WebSocketApiSpec(
            logical_id=logical_id,
            api_id=local_api_id(logical_id),
            name=self.resolver.to_string(props.get("Name", logical_id)),
            route_selection_expression=str(props.get("RouteSelectionExpression", "$request.body.action")),
            routes=routes,
            stage_name=stage_name,
        )

    def _api_of(self, props: Mapping[str, Any]) -> str:
        api = props.get("ApiId")
        if isinstance(api, dict) and "Ref" in api:
            return str(api["Ref"])
        if isinstance(api, dict) and "Fn::GetAtt" in api:
            return str(api["Fn::GetAtt"][0])
        return str(api)

    def _route_function(
        self, route_id: str, route: Mapping[str, Any], integrations: Mapping[str, Mapping[str, Any]]
    ) -> str | None:
        target = route.get("Target")
        if target is None:
            self.warnings.append(f"{route_id}: route without integration; messages to it are dropped")
            return None
        integration_id = self.resolver.to_string(target).removeprefix("integrations/")
        integration = integrations.get(integration_id)
        if integration is None:
            self.warnings.append(f"{route_id}: integration {integration_id} not found")
            return None
        kind = str(integration.get("IntegrationType", ""))
        if kind != "AWS_PROXY":
            self.warnings.append(f"{route_id}: integration type {kind} is not emulated (AWS_PROXY only)")
            return None
        return self._function_of_uri(integration.get("IntegrationUri"), route_id)

    def _authorizers(self, api_logical_id: str) -> dict[str, AuthorizerSpec]:
        found: dict[str, AuthorizerSpec] = {}
        for logical_id, props in self._of_type("AWS::ApiGatewayV2::Authorizer"):
            if self._api_of(props) != api_logical_id:
                continue
            if props.get("AuthorizerType") != "REQUEST":
                self.warnings.append(f"{logical_id}: authorizer type {props.get('AuthorizerType')} not emulated")
                continue
            function = self._function_of_uri(props.get("AuthorizerUri"), logical_id)
            if function is None:
                continue
            sources = self.resolver.resolve(props.get("IdentitySource") or [])
            found[logical_id] = AuthorizerSpec(
                logical_id=logical_id,
                name=self.resolver.to_string(props.get("Name", logical_id)),
                function=function,
                identity_sources=tuple(str(s) for s in sources),
            )
        return found

    # --- HTTP APIs ------------------------------------------------------------------------------------------

    def _http_routes(self) -> list[HttpRoute]:
        routes: list[HttpRoute] = []
        for logical_id, props in self._of_type("AWS::ApiGatewayV2::Api"):
            if props.get("ProtocolType") == "WEBSOCKET":
                continue
            api_id = local_api_id(logical_id)
            body = props.get("Body")
            if isinstance(body, dict):
                routes.extend(self._openapi_routes(logical_id, api_id, body))
            integrations = {
                lid: p for lid, p in self._of_type("AWS::ApiGatewayV2::Integration") if self._api_of(p) == logical_id
            }
            for route_id, route in self._of_type("AWS::ApiGatewayV2::Route"):
                if self._api_of(route) != logical_id:
                    continue
                key = str(self.resolver.resolve(route.get("RouteKey")))
                target = self.resolver.to_string(route.get("Target", "")).removeprefix("integrations/")
                integration = integrations.get(target)
                if integration is None:
                    self.warnings.append(f"{route_id}: integration not found; not served")
                    continue
                function = self._function_of_uri(integration.get("IntegrationUri"), route_id)
                if function is None:
                    continue
                method, _, path = key.partition(" ")
                version = str(integration.get("PayloadFormatVersion", "2.0"))
                if key == "$default":
                    method, path = "ANY", "$default"
                routes.append(HttpRoute(method.upper(), path, function, version, api_id))
        return routes

    def _openapi_routes(self, logical_id: str, api_id: str, body: Mapping[str, Any]) -> list[HttpRoute]:
        routes: list[HttpRoute] = []
        for path, verb, operation in openapi.operations(body):
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                continue
            where = f"{logical_id} {verb} {path}"
            if str(integration.get("type", "")).lower() != "aws_proxy":
                self.warnings.append(f"{where}: integration type {integration.get('type')} not emulated")
                continue
            function = self._function_of_uri(integration.get("uri"), where)
            if function is None:
                continue
            version = str(integration.get("payloadFormatVersion", "2.0"))
            routes.append(HttpRoute(verb, path, function, version, api_id))
        return routes

    # --- schedules ------------------------------------------------------------------------------------------

    def _schedules(self) -> list[ScheduleSpec]:
        schedules: list[ScheduleSpec] = []
        region, account = self.resolver.region, self.resolver.account_id
        for logical_id, props in self._of_type("AWS::Events::Rule"):
            expression = props.get("ScheduleExpression")
            if expression is None:
                self.warnings.append(f"{logical_id}: event-pattern rules are not emulated")
                continue
            arn = f"arn:aws:events:{region}:{account}:rule/{logical_id}"
            for target in props.get("Targets") or []:
                schedules.extend(self._schedule(logical_id, props, expression, target, arn))
        for logical_id, props in self._of_type("AWS::Scheduler::Schedule"):
            arn = f"arn:aws:scheduler:{region}:{account}:schedule/default/{logical_id}"
            expression = props.get("ScheduleExpression", "")
            schedules.extend(self._schedule(logical_id, props, expression, props.get("Target") or {}, arn))
        return schedules

    def _schedule(
        self, logical_id: str, props: dict[str, Any], expression: Any, target: dict[str, Any], arn: str
    ) -> list[ScheduleSpec]:
        """The schedule of one rule target, or none when the target is not a function of the template."""
        function = self._function_of_uri(target.get("Arn"), logical_id)
        if function is None:
            return []
        text_input = target.get("Input")
        return [
            ScheduleSpec(
                name=logical_id,
                function=function,
                expression=self.resolver.to_string(expression),
                enabled=str(self.resolver.resolve(props.get("State", "ENABLED"))) == "ENABLED",
                input=None if text_input is None else self.resolver.to_string(text_input),
                rule_arn=arn,
            )
        ]
