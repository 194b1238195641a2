"""The SAM transform, as a deployment runs it, after local code locations are swapped for ``s3://`` placeholders.

Like ``sam local``, local ``CodeUri`` values (and a plain function's local ``Code``) are replaced before the
transform (the translator only accepts S3 locations) and remembered per function; a local ``DefinitionUri`` is
read into ``DefinitionBody``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.cfn_yaml import TemplateError, read_template_like

_APIS_WITH_DEFINITIONS = ("AWS::Serverless::HttpApi", "AWS::Serverless::Api")


def _is_local_uri(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def swap_code_uris(template: dict[str, Any], base_dir: Path) -> dict[str, Path]:
    """Replace local code locations by placeholders; return each function's code directory."""
    global_uri = _swap_global_code_uri(template)
    resources = [(lid, res) for lid, res in template["Resources"].items() if isinstance(res, dict)]
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in resources:
        if resource.get("Type") == "AWS::Serverless::Function":
            props = resource.setdefault("Properties", {})
            code_dir = _swap_function_code_uri(logical_id, props, global_uri, base_dir)
            if code_dir is not None:
                code_dirs[logical_id] = code_dir
    for logical_id, resource in resources:
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::Function" and _is_local_uri(props.get("Code")):
            # sam local accepts a local directory as a plain Lambda function's Code.
            code_dirs[logical_id] = (base_dir / str(props["Code"])).resolve()
            props["Code"] = {"S3Bucket": "local-code", "S3Key": logical_id}
        if resource.get("Type") in _APIS_WITH_DEFINITIONS and _is_local_uri(props.get("DefinitionUri")):
            props["DefinitionBody"] = read_template_like(base_dir / str(props.pop("DefinitionUri")))
    return code_dirs


def _swap_global_code_uri(template: dict[str, Any]) -> Any:
    """``Globals.Function.CodeUri`` as written (swapped for a placeholder in the template when local)."""
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    global_uri = globals_function.get("CodeUri")
    if _is_local_uri(global_uri):
        globals_function["CodeUri"] = "s3://local-code/globals"
    return global_uri


def _swap_function_code_uri(logical_id: str, props: dict[str, Any], global_uri: Any, base_dir: Path) -> Path | None:
    """A SAM function's local code directory (its ``CodeUri``, the global one, else the template's directory)."""
    uri = props.get("CodeUri", global_uri)
    if props.get("InlineCode") is not None or not (uri is None or _is_local_uri(uri)):
        return None
    props["CodeUri"] = f"s3://local-code/{logical_id}"
    return base_dir.resolve() if uri is None else (base_dir / str(uri)).resolve()


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
