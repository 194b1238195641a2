"""A template's Lambda functions as the gateway runs them (:class:`~local.model.FunctionSpec`)."""

from __future__ import annotations

from pathlib import Path

from local.intrinsics import holds_placeholder
from local.model import FunctionSpec
from local.template_view import Properties, TemplateView


def function_spec(view: TemplateView, logical_id: str, props: Properties, code_dir: Path | None) -> FunctionSpec | None:
    """The function to serve, or None (and a warning) when it cannot run here: an image, inline or S3 code."""
    resolve = view.resolver.resolve
    if props.get("PackageType") == "Image":
        view.warnings.append(f"{logical_id}: container image functions are not emulated")
        return None
    if code_dir is None:
        if "ZipFile" in (props.get("Code") or {}):
            view.warnings.append(f"{logical_id}: inline code is not emulated")
        else:
            view.warnings.append(f"{logical_id}: code is not local (S3 location); not emulated")
        return None
    runtime = str(resolve(props.get("Runtime", "")))
    if not runtime.startswith("python"):
        view.warnings.append(f"{logical_id}: runtime {runtime or '(none)'} is not emulated (Python only)")
    variables = ((props.get("Environment") or {}).get("Variables")) or {}
    # A value made with what is not emulated (a cache's endpoint) is declared without one: the shell or
    # --env-vars can give it, and an empty REDIS_URL gets the embedded Redis.
    environment = {str(k): view.resolver.to_string(v) for k, v in variables.items()}
    environment = {name: "" if holds_placeholder(value) else value for name, value in environment.items()}
    logging_config = props.get("LoggingConfig") or {}
    return FunctionSpec(
        logical_id=logical_id,
        name=view.resolver.function_name(logical_id),
        handler=str(resolve(props.get("Handler", ""))),
        code_dir=code_dir,
        runtime=runtime,
        timeout=float(resolve(props.get("Timeout", 3))),
        memory_size=int(resolve(props.get("MemorySize", 128))),
        arn=view.resolver.function_arn(logical_id),
        environment=environment,
        log_format=str(resolve(logging_config.get("LogFormat", "Text"))),
        application_log_level=_optional(resolve(logging_config.get("ApplicationLogLevel"))),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
