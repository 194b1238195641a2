"""Reading a CloudFormation/SAM template file: YAML with CloudFormation's short-form tags (``!Ref``, ``!Sub``, …),
or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """The template cannot be served."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short-form tags (``!Ref``, ``!Sub``, …)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _construct_tag)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def read_template_like(path: Path) -> Any:
    """A template or a document it names (an OpenAPI definition): JSON by its suffix, else YAML."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_CfnLoader)  # noqa: S506


def read_template(path: Path) -> dict[str, Any]:
    try:
        data = read_template_like(path)
    except (yaml.YAMLError, ValueError) as error:
        raise TemplateError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return data
