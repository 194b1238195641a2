"""The SAM template is valid CloudFormation (cfn-lint) and expands with the SAM translator, as a deploy would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def expanded() -> dict[str, Any]:
    template = yaml_parse(TEMPLATE.read_text())
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/functions.zip"
    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result: dict[str, Any] = transform(template, {"Stage": "dev"}, _NoManagedPolicies())
    return result


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    run = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_websocket_api_selects_routes_by_action(expanded: dict[str, Any]) -> None:
    api = expanded["Resources"]["WebSocketApi"]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    routes = {
        r["Properties"]["RouteKey"] for r in expanded["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert routes == {"$connect", "$disconnect", "$default"}


def test_functions_may_manage_connections_of_this_api_only() -> None:
    statements = role_statements(variant(NETWORK), "BroadcastFunction")
    [manage] = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    assert "${WebSocketApi}" in manage["Resource"]["Fn::Sub"]


def test_secrets_are_noecho_parameters() -> None:
    template = yaml_parse(TEMPLATE.read_text())
    for name in ("JwtSecret", "InternalServiceKey", "RedisUrl"):
        assert template["Parameters"][name]["NoEcho"] is True


def test_the_internal_routes_are_http_api_events(expanded: dict[str, Any]) -> None:
    paths = expanded["Resources"]["ServerlessHttpApi"]["Properties"]["Body"]["paths"]
    assert {
        "/broadcast/",
        "/broadcast/tenant/{tenant_id}",
        "/broadcast/conversation/{conversation_id}",
        "/health/",
    } <= set(paths)


def test_the_functions_log_in_lambda_s_json_format() -> None:
    template = yaml_parse(TEMPLATE.read_text())
    assert template["Globals"]["Function"]["LoggingConfig"]["LogFormat"] == "JSON"


def test_every_alarm_on_the_service_s_metrics_names_a_metric_the_functions_emit() -> None:
    from connection_service.errors import StoreUnavailable
    from connection_service.metrics import NAMESPACE

    template = yaml_parse(TEMPLATE.read_text())
    sources = "".join(p.read_text() for p in (TEMPLATE.parent / "functions" / "connection_service").glob("*.py"))
    alarms = {
        name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {"FunctionErrorsAlarm", "FunctionThrottlesAlarm", "DeliveryFailureAlarm", "RedisUnavailableAlarm"} <= set(
        alarms
    )
    ours = [
        query["MetricStat"]["Metric"]
        for alarm in alarms.values()
        for query in alarm["Metrics"]
        if query.get("MetricStat", {}).get("Metric", {}).get("Namespace") == NAMESPACE
    ]
    assert ours
    for metric in ours:
        assert f'"{metric["MetricName"]}"' in sources, metric["MetricName"]
        reasons = [d["Value"] for d in metric["Dimensions"] if d["Name"] == "Reason"]
        assert reasons in ([], [StoreUnavailable.code])
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }


# --- Redis: the cache the stack creates, or the one its RedisUrl names ------------------------------------------

NETWORK = {"VpcId": "vpc-0123456789abcdef0", "PrivateSubnetIds": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb"}
NO_VALUE = object()
OWN_REDIS = {"RedisUrl": "rediss://cache.example.internal:6379", "RedisMode": "cluster"}


LOGIC: dict[str, Callable[[list[Any]], Any]] = {
    "Fn::Equals": lambda args: args[0] == args[1],
    "Fn::Not": lambda args: not args[0],
    "Fn::And": all,
    "Fn::Or": any,
}


def evaluate(value: Any, parameters: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """The intrinsics the variants differ by, as CloudFormation resolves them for these parameters."""
    if isinstance(value, list):
        return [evaluate(item, parameters, conditions) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        resolved = {k: evaluate(v, parameters, conditions) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    [(key, argument)] = value.items()
    if key == "Ref":
        return NO_VALUE if argument == "AWS::NoValue" else parameters.get(argument, {"Ref": argument})
    if key in LOGIC:
        return LOGIC[key](evaluate(argument, parameters, conditions))
    if key == "Condition":
        return evaluate(conditions[argument], parameters, conditions)
    if key == "Fn::Join":
        delimiter, items = argument
        return delimiter.join(evaluate(items, parameters, conditions))
    if key == "Fn::If":
        name, when_true, when_false = argument
        chosen = when_true if evaluate(conditions[name], parameters, conditions) else when_false
        return evaluate(chosen, parameters, conditions)
    return {key: evaluate(argument, parameters, conditions)}


def variant(overrides: dict[str, str]) -> dict[str, Any]:
    """The expanded template's resources that exist for these parameters, their intrinsics resolved."""
    template = yaml_parse(TEMPLATE.read_text())
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/functions.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    expanded = transform(template, {"Stage": "dev", **overrides}, _NoManagedPolicies())
    parameters = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    parameters.update(overrides)
    parameters["PrivateSubnetIds"] = [s for s in str(parameters["PrivateSubnetIds"]).split(",") if s]
    conditions = expanded["Conditions"]
    return {
        name: evaluate(resource, parameters, conditions)
        for name, resource in expanded["Resources"].items()
        if "Condition" not in resource or evaluate(conditions[resource["Condition"]], parameters, conditions)
    }


def test_by_default_the_stack_creates_a_serverless_valkey_cache_its_functions_reach_in_cluster_mode() -> None:
    resources = variant(NETWORK)

    cache = resources["Cache"]
    assert cache["Type"] == "AWS::ElastiCache::ServerlessCache" and cache["Properties"]["Engine"] == "valkey"
    assert cache["Properties"]["SubnetIds"] == NETWORK["PrivateSubnetIds"].split(",")
    assert cache["Properties"]["SecurityGroupIds"] == [{"Ref": "CacheSecurityGroup"}]
    assert "AWSLambdaVPCAccessExecutionRole" in str(resources["ConnectFunctionRole"])  # network interfaces
    ingress = resources["CacheIngressFromFunctions"]["Properties"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"} and ingress["FromPort"] == 6379
    for name in ("ConnectFunction", "DisconnectFunction", "MessageFunction", "BroadcastFunction"):
        function = resources[name]["Properties"]
        assert function["VpcConfig"] == {
            "SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}],
            "SubnetIds": NETWORK["PrivateSubnetIds"].split(","),
        }
        variables = function["Environment"]["Variables"]
        assert variables["REDIS_URL"] == {"Fn::Sub": "rediss://${Cache.Endpoint.Address}:${Cache.Endpoint.Port}"}
        assert variables["REDIS_MODE"] == "cluster"


def test_with_a_redis_url_no_cache_is_created_and_the_functions_use_that_one_as_told() -> None:
    outside = variant(OWN_REDIS)
    inside = variant({**OWN_REDIS, **NETWORK})

    for resources in (outside, inside):
        assert "Cache" not in resources and "CacheSecurityGroup" not in resources
        variables = resources["ConnectFunction"]["Properties"]["Environment"]["Variables"]
        assert variables["REDIS_URL"] == OWN_REDIS["RedisUrl"] and variables["REDIS_MODE"] == "cluster"
    assert "VpcConfig" not in outside["ConnectFunction"]["Properties"] and "FunctionSecurityGroup" not in outside
    assert inside["ConnectFunction"]["Properties"]["VpcConfig"]["SubnetIds"] == NETWORK["PrivateSubnetIds"].split(",")


def test_a_created_cache_requires_its_network() -> None:
    rule = yaml_parse(TEMPLATE.read_text())["Rules"]["CreatedCacheNeedsItsNetwork"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "RedisUrl"}, ""]}
    asserted = str(rule["Assertions"])
    assert "VpcId" in asserted and "PrivateSubnetIds" in asserted


def test_the_local_gateway_gives_the_default_variant_its_embedded_redis_and_byo_the_url() -> None:
    from local.template import load_app

    default = load_app(TEMPLATE)
    own = load_app(TEMPLATE, overrides=OWN_REDIS)

    # The cache's endpoint cannot exist locally: the variable is left empty, for the embedded Redis to fill.
    assert default.functions["ConnectFunction"].environment["REDIS_URL"] == ""
    assert any("Cache" in warning for warning in default.warnings)
    assert own.functions["ConnectFunction"].environment["REDIS_URL"] == OWN_REDIS["RedisUrl"]
    assert own.functions["ConnectFunction"].environment["REDIS_MODE"] == "cluster"


# --- secrets: in Secrets Manager, each readable by the functions that use it, never a plain variable ----------

FUNCTIONS = ("ConnectFunction", "DisconnectFunction", "MessageFunction", "BroadcastFunction")
HANDLERS = {"ConnectFunction": "connect", "DisconnectFunction": "disconnect", "MessageFunction": "message",
            "BroadcastFunction": "broadcast"}  # fmt: skip
ARNS = {
    "JwtSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf",
    "InternalServiceKeyArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf",
}
REDIS_PASSWORD_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:redis-AbCdEf"


def role_statements(resources: dict[str, Any], function: str) -> list[dict[str, Any]]:
    policies = resources[f"{function}Role"]["Properties"].get("Policies", [])
    return [s for p in policies if p is not NO_VALUE for s in p["PolicyDocument"]["Statement"]]


def secret_reads(resources: dict[str, Any]) -> dict[str, list[Any]]:
    """Per function: the resources its role may call GetSecretValue on (and no other secretsmanager action)."""
    reads: dict[str, list[Any]] = {}
    for function in FUNCTIONS:
        statements = [s for s in role_statements(resources, function) if "secretsmanager" in str(s["Action"])]
        assert all(s["Action"] == "secretsmanager:GetSecretValue" and s["Effect"] == "Allow" for s in statements)
        reads[function] = [s["Resource"] for s in statements]
    return reads


def variables(resources: dict[str, Any], function: str) -> dict[str, Any]:
    found: dict[str, Any] = resources[function]["Properties"]["Environment"]["Variables"]
    return found


def test_no_secret_is_a_plain_environment_variable_in_aws() -> None:
    given = {"JwtSecret": "jwt-value-0123456789", "InternalServiceKey": "key-value-0123", "RedisPassword": "pw-value"}
    for resources in (variant(NETWORK), variant({**OWN_REDIS, **given})):
        for function in FUNCTIONS:
            env = variables(resources, function)
            # Declared, for the local gateway to fill from the shell, but always empty in the template.
            assert [env[name] for name in ("JWT_SECRET", "INTERNAL_SERVICE_KEY", "REDIS_PASSWORD")] == ["", "", ""]
            assert not any(value in str(env) for value in given.values()), function
    parameters = yaml_parse(TEMPLATE.read_text())["Parameters"]
    for name in ("JwtSecret", "InternalServiceKey", "RedisPassword", "RedisUrl"):
        assert parameters[name]["NoEcho"] is True


def reads_of(jwt: Any, key: Any) -> dict[str, list[Any]]:
    """The secrets each function may read: the JWT secret for connect, the internal key for message and broadcast."""
    return {"ConnectFunction": [jwt], "DisconnectFunction": [], "MessageFunction": [key], "BroadcastFunction": [key]}


def test_by_default_the_stack_creates_the_secrets_and_each_function_reads_exactly_the_ones_it_uses() -> None:
    resources = variant(NETWORK)

    for name in ("JwtSigningSecret", "InternalServiceKeySecret"):
        secret = resources[name]
        assert secret["Type"] == "AWS::SecretsManager::Secret"
        assert "GenerateSecretString" in secret["Properties"] and "SecretString" not in secret["Properties"]
    assert "RedisPasswordSecret" not in resources
    jwt, key = {"Ref": "JwtSigningSecret"}, {"Ref": "InternalServiceKeySecret"}
    assert secret_reads(resources) == reads_of(jwt, key)
    assert variables(resources, "ConnectFunction")["JWT_SECRET_ARN"] == jwt
    for function in ("MessageFunction", "BroadcastFunction"):
        assert variables(resources, function)["INTERNAL_SERVICE_KEY_ARN"] == key
    for function in FUNCTIONS:
        assert variables(resources, function)["REDIS_PASSWORD_ARN"] == ""


def test_given_values_seed_the_created_secrets_and_given_arns_replace_them() -> None:
    seeded = variant({**NETWORK, "JwtSecret": "jwt-value-0123456789", "InternalServiceKey": "key-value-0123"})
    assert seeded["JwtSigningSecret"]["Properties"]["SecretString"] == "jwt-value-0123456789"
    assert "GenerateSecretString" not in seeded["JwtSigningSecret"]["Properties"]
    assert seeded["InternalServiceKeySecret"]["Properties"]["SecretString"] == "key-value-0123"

    referenced = variant({**NETWORK, **ARNS})
    assert "JwtSigningSecret" not in referenced and "InternalServiceKeySecret" not in referenced
    jwt, key = ARNS["JwtSecretArn"], ARNS["InternalServiceKeyArn"]
    assert secret_reads(referenced) == reads_of(jwt, key)
    assert variables(referenced, "ConnectFunction")["JWT_SECRET_ARN"] == jwt
    assert variables(referenced, "BroadcastFunction")["INTERNAL_SERVICE_KEY_ARN"] == key


def test_a_redis_password_is_a_secret_every_function_reads() -> None:
    stored = variant({**OWN_REDIS, "RedisPassword": "pw-value"})
    referenced = variant({**OWN_REDIS, "RedisPasswordArn": REDIS_PASSWORD_ARN})

    assert stored["RedisPasswordSecret"]["Properties"]["SecretString"] == "pw-value"
    assert "RedisPasswordSecret" not in referenced
    for resources, secret in ((stored, {"Ref": "RedisPasswordSecret"}), (referenced, REDIS_PASSWORD_ARN)):
        reads = secret_reads(resources)
        for function in FUNCTIONS:
            assert variables(resources, function)["REDIS_PASSWORD_ARN"] == secret
            assert secret in reads[function] and len(reads[function]) == (1 if function == "DisconnectFunction" else 2)


def test_each_function_checks_at_init_the_secrets_the_template_gives_it() -> None:
    """The secrets a handler names in ``wiring.start(...)`` are those whose ARN its function gets."""
    import ast

    resources = variant(NETWORK)
    package = TEMPLATE.parent / "functions" / "connection_service"
    for function, module in HANDLERS.items():
        tree = ast.parse((package / f"{module}.py").read_text())
        [start] = [
            node for node in ast.walk(tree) if isinstance(node, ast.Call) and ast.unparse(node.func) == "wiring.start"
        ]
        needs = {f"{ast.literal_eval(arg).upper()}_ARN" for arg in start.args}
        given = {name for name in variables(resources, function) if name.endswith("_ARN")} - {"REDIS_PASSWORD_ARN"}
        assert needs == given, function
