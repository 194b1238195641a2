"""``local.intrinsics.Resolver``: each intrinsic function and reference, resolved to its local stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from local.intrinsics import NO_VALUE, PLACEHOLDER, Resolver, local_api_id

RESOURCES: dict[str, Any] = {
    "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": {"Fn::Sub": "${AWS::StackName}-fn"}}},
    "Plain": {"Type": "AWS::Lambda::Function", "Properties": {}},
    "Ws": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
    "Http": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
    "Rest": {"Type": "AWS::ApiGateway::RestApi", "Properties": {}},
    "RestStage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"StageName": {"Ref": "Stage"}}},
    "WsStage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"StageName": "live"}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
}


def _resolver() -> Resolver:
    return Resolver(
        resources=RESOURCES,
        parameters={"Stage": "dev", "Zones": ["a", "b"]},
        conditions={
            "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
            "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        },
        mappings={"Sizes": {"dev": {"Memory": 256}}},
        region="eu-west-1",
        account_id="111122223333",
        stack_name="stack",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Fn"}, "stack-fn"),
        ({"Ref": "Plain"}, "Plain"),
        ({"Ref": "Ws"}, local_api_id("Ws")),
        ({"Ref": "Rest"}, local_api_id("Rest")),
        ({"Ref": "RestStage"}, "dev"),
        ({"Ref": "WsStage"}, "live"),
        ({"Ref": "Role"}, "Role"),
        ({"Fn::GetAtt": ["Fn", "Arn"]}, "arn:aws:lambda:eu-west-1:111122223333:function:stack-fn"),
        ({"Fn::GetAtt": "Ws.ApiEndpoint"}, f"wss://{local_api_id('Ws')}.execute-api.eu-west-1.amazonaws.com"),
        (
            {"Fn::GetAtt": ["Http", "ApiEndpoint"]},
            f"https://{local_api_id('Http')}.execute-api.eu-west-1.amazonaws.com",
        ),
        ({"Fn::GetAtt": ["Http", "ApiId"]}, local_api_id("Http")),
        ({"Fn::GetAtt": ["Rest", "RestApiId"]}, local_api_id("Rest")),
        ({"Fn::GetAtt": ["Rest", "RootResourceId"]}, "Rest.RootResourceId"),
        ({"Fn::GetAtt": ["Role", "Arn"]}, "arn:aws:local:eu-west-1:111122223333:Role"),
        ({"Fn::Sub": "${AWS::AccountId}/${Stage}/${!Literal}"}, "111122223333/dev/${Literal}"),
        (
            {"Fn::Sub": ["${Name}-${Fn.Arn}", {"Name": {"Ref": "Stage"}}]},
            "dev-arn:aws:lambda:eu-west-1:111122223333:function:stack-fn",
        ),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}, "a-dev"),
        ({"Fn::Select": [1, {"Ref": "Zones"}]}, "b"),
        ({"Fn::Split": [",", "x,y"]}, ["x", "y"]),
        ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
        ({"Fn::If": ["IsProd", "yes", "no"]}, "no"),
        ({"Fn::And": [True, {"Condition": "IsDev"}]}, True),
        ({"Fn::Or": [False, {"Condition": "IsProd"}]}, False),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 256),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Key": {"Ref": "AWS::NoValue"}, "Kept": 1}, {"Kept": 1}),
    ],
)
def test_intrinsics_resolve_to_local_values(value: Any, expected: Any) -> None:
    resolver = _resolver()
    assert resolver.resolve(value) == expected
    assert resolver.unresolved == []


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"Ref": "Missing"}, "Ref Missing"),
        ({"Fn::GetAtt": ["Missing", "Arn"]}, "Fn::GetAtt Missing.Arn"),
        ({"Fn::GetAtt": ["Ws", "Nope"]}, "Fn::GetAtt Ws.Nope"),
        ({"Fn::FindInMap": ["Sizes", "prod", "Memory"]}, "Fn::FindInMap Sizes.prod.Memory"),
        ({"Fn::ImportValue": "shared"}, "Fn::ImportValue 'shared'"),
    ],
)
def test_what_cannot_be_resolved_locally_is_a_named_placeholder(value: Any, named: str) -> None:
    resolver = _resolver()
    assert resolver.resolve(value) == f"{PLACEHOLDER}{named}>"
    assert resolver.unresolved == [named]


def test_no_value_in_a_list_is_dropped() -> None:
    assert _resolver().resolve(["a", {"Ref": "AWS::NoValue"}]) == ["a"]
    assert _resolver().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
