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
from collections.abc import Mapping
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

    def _ref(self, name: Any) -> Any:  # noqa: C901 - to split (complexity check introduced; see the tidy-up commits)
        if not isinstance(name, str):
            return self._placeholder(f"Ref {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            backed = self.physical(name)
            if backed is not None:
                return backed.ref
            kind = self._type(name)
            if kind == "AWS::Lambda::Function":
                return self.function_name(name)
            if kind in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"):
                return local_api_id(name)
            if kind == "AWS::ApiGateway::Stage":
                return self.resolve(self._properties(name).get("StageName", name))
            if kind == "AWS::ApiGatewayV2::Stage":
                return self.resolve(self._properties(name).get("StageName", name))
            return name
        return self._placeholder(f"Ref {name}")

    def _get_att(self, logical_id: str, attribute: str) -> Any:  # noqa: C901 - to split (complexity check introduced; see the tidy-up commits)
        if logical_id not in self.resources:
            return self._placeholder(f"Fn::GetAtt {logical_id}.{attribute}")
        backed = self.physical(logical_id)
        if backed is not None and attribute in backed.attributes:
            return backed.attributes[attribute]
        kind = self._type(logical_id)
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return self.function_arn(logical_id)
        if kind == "AWS::ApiGatewayV2::Api":
            api_id = local_api_id(logical_id)
            if attribute == "ApiId":
                return api_id
            if attribute == "ApiEndpoint":
                protocol = self._properties(logical_id).get("ProtocolType", "HTTP")
                scheme = "wss" if protocol == "WEBSOCKET" else "https"
                return f"{scheme}://{api_id}.execute-api.{self.region}.amazonaws.com"
        if kind == "AWS::ApiGateway::RestApi":
            if attribute == "RootResourceId":
                return f"{logical_id}.RootResourceId"
            if attribute == "RestApiId":
                return local_api_id(logical_id)
        if attribute == "Arn":
            return f"arn:aws:local:{self.region}:{self.account_id}:{logical_id}"
        return self._placeholder(f"Fn::GetAtt {logical_id}.{attribute}")

    def _function(self, key: str, argument: Any) -> Any:  # noqa: C901 - to split (complexity check introduced; see the tidy-up commits)
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
            if len(parts) != 2:
                return self._placeholder(f"Fn::GetAtt {argument!r}")
            return self._get_att(str(self.resolve(parts[0])), str(self.resolve(parts[1])))
        if key == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(self.to_string(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            delimiter, text = argument
            return str(self.resolve(text)).split(str(delimiter))
        if key == "Fn::If":
            name, if_true, if_false = argument
            return self.resolve(if_true if self.condition(name) else if_false)
        if key == "Fn::Equals":
            left, right = argument
            return self.to_string(left) == self.to_string(right)
        if key == "Fn::Not":
            return not bool(self.resolve(argument[0]))
        if key == "Fn::And":
            return all(bool(self.resolve(item)) for item in argument)
        if key == "Fn::Or":
            return any(bool(self.resolve(item)) for item in argument)
        if key == "Fn::FindInMap":
            name, top, second = (self.to_string(item) for item in argument[:3])
            try:
                return self.mappings[name][top][second]
            except (KeyError, TypeError):
                return self._placeholder(f"Fn::FindInMap {name}.{top}.{second}")
        if key == "Fn::Base64":
            return base64.b64encode(self.to_string(argument).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        return self._placeholder(f"{key} {argument!r}")

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
