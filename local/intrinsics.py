"""CloudFormation intrinsic functions, resolved the way a deployment would, with local stand-in values.

Physical ids a real stack would make up are replaced by deterministic local ones: ``Ref`` to a function is its
name (``FunctionName`` or the logical id, as ``sam local`` names functions), ``Ref`` to an API is a ten
character API id derived from the logical id, ``Fn::GetAtt Func.Arn`` is a Lambda ARN in the local region and
account. Anything that cannot be resolved locally is replaced by a readable placeholder and recorded in
:attr:`Resolver.unresolved`, so the startup message can name it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from local.aws_resources import Physical, physical

NO_VALUE = object()
"""Marker for ``Ref: AWS::NoValue``: the key holding it is dropped."""

PLACEHOLDER = "<unresolved "


def holds_placeholder(text: str) -> bool:
    """Whether ``text`` was made with something that cannot be resolved locally (say, a cache's endpoint)."""
    return PLACEHOLDER in text


_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def local_api_id(logical_id: str) -> str:
    """A stable, API Gateway-like id (10 lowercase alphanumerics) for an API's logical id."""
    digest = hashlib.sha256(logical_id.encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters, conditions and resources."""

    def __init__(
        self,
        *,
        resources: Mapping[str, Any],
        parameters: Mapping[str, Any],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
        region: str,
        account_id: str,
        stack_name: str,
        aws_endpoint: str | None = None,
    ) -> None:
        self.resources = resources
        self.aws_endpoint = aws_endpoint
        """Where a local stand-in serves the template's tables, queues, ...: their Ref/GetAtt name local ones."""
        self._physical: dict[str, Physical | None] = {}
        self.parameters = dict(parameters)
        self.condition_definitions = conditions
        self.mappings = mappings
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.unresolved: list[str] = []
        self._condition_values: dict[str, bool] = {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }

    # --- public helpers -------------------------------------------------------------------------------------

    def function_name(self, logical_id: str) -> str:
        props = self._properties(logical_id)
        name = props.get("FunctionName")
        if isinstance(name, str) and name:
            return name
        if name is not None:
            resolved = self.resolve(name)
            if isinstance(resolved, str) and resolved:
                return resolved
        return logical_id

    def function_arn(self, logical_id: str) -> str:
        name = self.function_name(logical_id)
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def physical(self, logical_id: str) -> Physical | None:
        """The local name and ARNs of a resource the stand-in backs (None for others, or without a stand-in)."""
        if self.aws_endpoint is None:
            return None
        if logical_id not in self._physical:
            self._physical[logical_id] = None  # a resource whose name refers to itself resolves without it
            self._physical[logical_id] = physical(
                logical_id,
                self._type(logical_id),
                self._properties(logical_id),
                self.to_string,
                region=self.region,
                account_id=self.account_id,
                aws_endpoint=self.aws_endpoint,
            )
        return self._physical[logical_id]

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            definition = self.condition_definitions.get(name)
            if definition is None:
                self.unresolved.append(f"Condition {name} (undefined; taken as false)")
                self._condition_values[name] = False
            else:
                self._condition_values[name] = bool(self.resolve(definition))
        return self._condition_values[name]

    def to_string(self, value: Any) -> str:
        """Stringify a resolved scalar the way CloudFormation does for environment variables."""
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, list):
            return ",".join(str(item) for item in resolved)
        if resolved is None or resolved is NO_VALUE:
            return ""
        return str(resolved)

    # --- resolution -----------------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        result: dict[str, Any] = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not NO_VALUE:
                result[key] = resolved
        return result

    def _properties(self, logical_id: str) -> Mapping[str, Any]:
        resource = self.resources.get(logical_id) or {}
        props = resource.get("Properties") or {}
        return props if isinstance(props, Mapping) else {}

    def _type(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id) or {}
        return str(resource.get("Type", ""))

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            return self._placeholder(f"Ref {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self._resource_ref(name)
        return self._placeholder(f"Ref {name}")

    def _resource_ref(self, logical_id: str) -> Any:
        backed = self.physical(logical_id)
        if backed is not None:
            return backed.ref
        kind = self._type(logical_id)
        if kind == "AWS::Lambda::Function":
            return self.function_name(logical_id)
        if kind in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"):
            return local_api_id(logical_id)
        if kind in ("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"):
            return self.resolve(self._properties(logical_id).get("StageName", logical_id))
        return logical_id

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            return self._placeholder(f"Fn::GetAtt {logical_id}.{attribute}")
        backed = self.physical(logical_id)
        if backed is not None and attribute in backed.attributes:
            return backed.attributes[attribute]
        value = self._api_attribute(logical_id, self._type(logical_id), attribute)
        if value is not None:
            return value
        if attribute == "Arn":
            return f"arn:aws:local:{self.region}:{self.account_id}:{logical_id}"
        return self._placeholder(f"Fn::GetAtt {logical_id}.{attribute}")

    def _api_attribute(self, logical_id: str, kind: str, attribute: str) -> str | None:
        """A function's ARN, or an API's id, endpoint or root resource (None for anything else)."""
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return self.function_arn(logical_id)
        api_id = local_api_id(logical_id)
        if kind == "AWS::ApiGatewayV2::Api" and attribute == "ApiEndpoint":
            protocol = self._properties(logical_id).get("ProtocolType", "HTTP")
            scheme = "wss" if protocol == "WEBSOCKET" else "https"
            return f"{scheme}://{api_id}.execute-api.{self.region}.amazonaws.com"
        named = {
            ("AWS::ApiGatewayV2::Api", "ApiId"): api_id,
            ("AWS::ApiGateway::RestApi", "RestApiId"): api_id,
            ("AWS::ApiGateway::RestApi", "RootResourceId"): f"{logical_id}.RootResourceId",
        }
        return named.get((kind, attribute))

    def _function(self, key: str, argument: Any) -> Any:
        function = _FUNCTIONS.get(key)
        if function is None:
            return self._placeholder(f"{key} {argument!r}")
        return function(self, argument)

    def _fn_get_att(self, argument: Any) -> Any:
        parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
        if len(parts) != 2:
            return self._placeholder(f"Fn::GetAtt {argument!r}")
        return self._get_att(str(self.resolve(parts[0])), str(self.resolve(parts[1])))

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(self.to_string(item) for item in self.resolve(items))

    def _fn_select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(str(delimiter))

    def _fn_if(self, argument: Any) -> Any:
        name, if_true, if_false = argument
        return self.resolve(if_true if self.condition(name) else if_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = argument
        return self.to_string(left) == self.to_string(right)

    def _fn_find_in_map(self, argument: Any) -> Any:
        name, top, second = (self.to_string(item) for item in argument[:3])
        try:
            return self.mappings[name][top][second]
        except (KeyError, TypeError):
            return self._placeholder(f"Fn::FindInMap {name}.{top}.{second}")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            template, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            template, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.to_string(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                logical_id, attribute = name.split(".", 1)
                return self.to_string(self._get_att(logical_id, attribute))
            return self.to_string(self._ref(name))

        return _SUB_VARIABLE.sub(replace, str(template))

    def _placeholder(self, description: str) -> str:
        self.unresolved.append(description)
        return f"{PLACEHOLDER}{description}>"


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Fn::Sub": Resolver._sub,
    "Fn::GetAtt": Resolver._fn_get_att,
    "Fn::Join": Resolver._fn_join,
    "Fn::Select": Resolver._fn_select,
    "Fn::Split": Resolver._fn_split,
    "Fn::If": Resolver._fn_if,
    "Fn::Equals": Resolver._fn_equals,
    "Fn::Not": lambda resolver, argument: not bool(resolver.resolve(argument[0])),
    "Fn::And": lambda resolver, argument: all(bool(resolver.resolve(item)) for item in argument),
    "Fn::Or": lambda resolver, argument: any(bool(resolver.resolve(item)) for item in argument),
    "Fn::FindInMap": Resolver._fn_find_in_map,
    "Fn::Base64": lambda resolver, argument: base64.b64encode(resolver.to_string(argument).encode()).decode(),
    "Fn::GetAZs": lambda resolver, argument: [f"{resolver.region}{zone}" for zone in "abc"],
}
"""The intrinsic functions resolved locally; any other ``Fn::`` becomes a placeholder."""
