"""The SAM template is valid CloudFormation (cfn-lint) and expands with the SAM translator, as a deploy would."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_functions_may_manage_connections_of_this_api_only(expanded: dict[str, Any]) -> None:
    role = expanded["Resources"]["BroadcastFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
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
    if key == "Fn::Equals":
        left, right = evaluate(argument, parameters, conditions)
        return left == right
    if key == "Fn::Not":
        return not evaluate(argument[0], parameters, conditions)
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
