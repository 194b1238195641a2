"""The expanded template's resources as the readers of each concern (functions, WebSocket, HTTP and REST APIs,
schedules) see them: by type, by API, and the function an integration URI names; warnings collected on the way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from local.intrinsics import Resolver

_FUNCTION_IN_URI = re.compile(r":function:([^/:]+)")

Properties = dict[str, Any]


def ref_target(value: Any) -> str:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at (a plain value as text)."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
    return str(value)


class TemplateView:
    def __init__(self, resources: Mapping[str, Any], resolver: Resolver, warnings: list[str]) -> None:
        self.resources = resources
        self.resolver = resolver
        self.warnings = warnings
        self.function_by_name: dict[str, str] = {}
        """Logical id of each served function, by its function name."""

    def of_type(self, kind: str) -> list[tuple[str, Properties]]:
        return [(lid, res.get("Properties") or {}) for lid, res in self.resources.items() if res.get("Type") == kind]

    def of_api(self, kind: str, api_logical_id: str) -> list[tuple[str, Properties]]:
        """The resources of ``kind`` (routes, integrations, stages, …) whose ``ApiId`` names that API."""
        return [(lid, props) for lid, props in self.of_type(kind) if ref_target(props.get("ApiId")) == api_logical_id]

    def function_of_uri(self, uri: Any, where: str) -> str | None:
        """The served function an integration or target URI names; None (and a warning) for anything else."""
        resolved = self.resolver.to_string(uri)
        match = _FUNCTION_IN_URI.search(resolved)
        if match and match.group(1) in self.function_by_name:
            return self.function_by_name[match.group(1)]
        if match:
            self.warnings.append(f"{where}: function {match.group(1)} is not emulated")
        else:
            self.warnings.append(f"{where}: integration URI {resolved!r} is not a Lambda function")
        return None

    def routes_of(self, api_logical_id: str) -> list[tuple[str, Properties, str]]:
        """``(logical id, properties, route key)`` of each ``AWS::ApiGatewayV2::Route`` of the API."""
        resolve = self.resolver.resolve
        routes = self.of_api("AWS::ApiGatewayV2::Route", api_logical_id)
        return [(route_id, route, str(resolve(route.get("RouteKey")))) for route_id, route in routes]

    def integrations_of(self, api_logical_id: str) -> dict[str, Properties]:
        return dict(self.of_api("AWS::ApiGatewayV2::Integration", api_logical_id))

    def integration_id(self, target: Any) -> str:
        """The integration a route's ``Target`` (``integrations/{id}``) names."""
        return self.resolver.to_string(target).removeprefix("integrations/")
