"""The SAM template is valid CloudFormation (cfn-lint) and expands with the SAM translator, as a deploy would."""

from __future__ import annotations

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
