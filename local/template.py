"""Loading a SAM template into what the gateway serves: read (:mod:`local.cfn_yaml`), expand
(:mod:`local.sam_transform`), resolve intrinsics (:mod:`local.intrinsics`), then read each concern into an
:class:`~local.model.AppModel`, naming what is not emulated."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.aws_resources import BACKED_TYPES
from local.cfn_yaml import read_template
from local.function_specs import function_spec
from local.http_template import http_routes
from local.intrinsics import Resolver, local_api_id
from local.model import ApiAddress, AppModel, AwsResource, FunctionSpec
from local.rest_template import RestRoutes
from local.sam_transform import swap_code_uris, transform_template
from local.schedule_template import schedules
from local.template_view import TemplateView
from local.websocket_template import websocket_api

DEFAULT_ACCOUNT_ID = "123456789012"
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


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str], warnings: list[str]) -> dict[str, Any]:
    """Each parameter's value: its override, else its ``Default`` (lists split, scalars as text)."""
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
    code_dirs = swap_code_uris(template, path.parent)
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
    model = _model(resources, resolver, code_dirs, warnings)
    if resolver.unresolved:
        unique = sorted(set(resolver.unresolved))
        warnings.append("intrinsics resolved to placeholders: " + ", ".join(unique))
    return model


def _model(
    resources: Mapping[str, Any], resolver: Resolver, code_dirs: Mapping[str, Path], warnings: list[str]
) -> AppModel:
    active = {lid: res for lid, res in resources.items() if _active(res, resolver)}
    view = TemplateView(active, resolver, warnings)
    functions = _functions(view, code_dirs)
    websocket = websocket_api(view)
    http = http_routes(view)
    rest_routes, rest_stages = RestRoutes(view.of_type, resolver, view.function_of_uri, warnings).build()
    return AppModel(
        functions=functions,
        websocket=websocket,
        http_routes=http,
        schedules=schedules(view),
        region=resolver.region,
        account_id=resolver.account_id,
        warnings=warnings,
        rest_routes=rest_routes,
        apis=_apis(view, rest_stages),
        aws_resources=[
            AwsResource(lid, kind, resolver.resolve(props), _physical_name(resolver, lid))
            for kind in BACKED_TYPES
            for lid, props in view.of_type(kind)
        ],
    )


def _active(resource: Any, resolver: Resolver) -> bool:
    """A resource the template creates (its ``Condition``, if any, holds)."""
    if not isinstance(resource, dict):
        return False
    condition = resource.get("Condition")
    return condition is None or resolver.condition(str(condition))


def _functions(view: TemplateView, code_dirs: Mapping[str, Path]) -> dict[str, FunctionSpec]:
    """The functions served (and :attr:`TemplateView.function_by_name` filled); unsupported types named."""
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in view.resources.items():
        kind = resource.get("Type", "")
        if kind not in _SUPPORTED_TYPES:
            view.warnings.append(f"{logical_id} ({kind}) is not emulated")
        if kind == "AWS::Lambda::Function":
            spec = function_spec(view, logical_id, resource.get("Properties") or {}, code_dirs.get(logical_id))
            if spec is not None:
                functions[logical_id] = spec
                view.function_by_name[spec.name] = logical_id
    return functions


def _physical_name(resolver: Resolver, logical_id: str) -> str:
    backed = resolver.physical(logical_id)
    return logical_id if backed is None else backed.name


def _apis(view: TemplateView, rest_stages: Mapping[str, list[str]]) -> list[ApiAddress]:
    """Every API's local id, kind and stages (the API URL rewriter's view of the template)."""
    apis = [
        ApiAddress(local_api_id(lid), "REST", lid, tuple(rest_stages.get(lid, ())))
        for lid, _ in view.of_type("AWS::ApiGateway::RestApi")
    ]
    for lid, props in view.of_type("AWS::ApiGatewayV2::Api"):
        stages = tuple(
            view.resolver.to_string(p.get("StageName")) for _, p in view.of_api("AWS::ApiGatewayV2::Stage", lid)
        )
        kind = "WEBSOCKET" if props.get("ProtocolType") == "WEBSOCKET" else "HTTP"
        apis.append(ApiAddress(local_api_id(lid), kind, lid, stages))
    return apis
