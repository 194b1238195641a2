"""``local.sam_transform.swap_code_uris``: local code locations swapped for ``s3://`` placeholders before the SAM
transform, each function's code directory remembered, a local OpenAPI definition read in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local.sam_transform import swap_code_uris


def _function(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": props}


def test_local_code_locations_become_placeholders_and_are_remembered(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("openapi: '3.0.1'\npaths: {}\n")
    template: dict[str, Any] = {
        "Globals": {"Function": {"CodeUri": "src/"}},
        "Resources": {
            "FromGlobals": _function(Handler="a.handler"),
            "Own": _function(CodeUri="other/"),
            "OnS3": _function(CodeUri="s3://bucket/key.zip"),
            "Inline": _function(InlineCode="def handler(e, c): pass"),
            "Plain": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "plain/"}},
            "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {"DefinitionUri": "api.yaml"}},
            "NotADict": "ignored",
        },
    }
    code_dirs = swap_code_uris(template, tmp_path)
    assert code_dirs == {
        "FromGlobals": (tmp_path / "src").resolve(),
        "Own": (tmp_path / "other").resolve(),
        "Plain": (tmp_path / "plain").resolve(),
    }
    resources = template["Resources"]
    assert template["Globals"]["Function"]["CodeUri"] == "s3://local-code/globals"
    assert resources["FromGlobals"]["Properties"]["CodeUri"] == "s3://local-code/FromGlobals"
    assert resources["Own"]["Properties"]["CodeUri"] == "s3://local-code/Own"
    assert resources["OnS3"]["Properties"]["CodeUri"] == "s3://bucket/key.zip"
    assert "CodeUri" not in resources["Inline"]["Properties"]
    assert resources["Plain"]["Properties"]["Code"] == {"S3Bucket": "local-code", "S3Key": "Plain"}
    assert resources["Api"]["Properties"] == {"DefinitionBody": {"openapi": "3.0.1", "paths": {}}}


def test_a_function_without_any_code_uri_runs_from_the_template_s_directory(tmp_path: Path) -> None:
    template: dict[str, Any] = {"Resources": {"Fn": _function(Handler="app.handler")}}
    assert swap_code_uris(template, tmp_path) == {"Fn": tmp_path.resolve()}
    assert template["Resources"]["Fn"]["Properties"]["CodeUri"] == "s3://local-code/Fn"
