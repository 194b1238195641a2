"""Each function's environment, as ``sam local`` would give it.

Precedence for a variable the template declares (highest first): the ``--env-vars`` file's entry for the
function, its ``Parameters`` entry, the shell's value, the template's value. Variables the template does not
declare are not passed from the shell (except a few a runtime needs: PATH, HOME, locale, CA bundles, …).
Lambda's reserved variables and the gateway's own (WEBSOCKET_API_ENDPOINT, REDIS_URL) come on top.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from local.inprocess_environ import system_subset
from local.model import FunctionSpec

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIALOCALGATEWAY0000",
    "AWS_SECRET_ACCESS_KEY": "local-gateway-secret-access-key",
    "AWS_SESSION_TOKEN": "local-gateway-session-token",
}


def lambda_variables(spec: FunctionSpec, region: str) -> dict[str, str]:
    return {
        **_log_variables(spec),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **DUMMY_CREDENTIALS,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST/local",
        # The interpreter that really runs the function (the runtime client adapts its behaviour to it).
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_SAM_LOCAL": "true",
        "TZ": ":UTC",
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": str(spec.code_dir),
    }


def _log_variables(spec: FunctionSpec) -> dict[str, str]:
    """What Lambda sets for the JSON log format (``LoggingConfig``): the runtime formats and filters records by it."""
    if spec.log_format.upper() != "JSON":
        return {}
    return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": (spec.application_log_level or "INFO").upper()}


def function_environment(
    spec: FunctionSpec,
    *,
    shell: Mapping[str, str],
    env_vars: Mapping[str, Mapping[str, str]],
    region: str,
    gateway: Mapping[str, str],
    redis_url: str | None,
    template_values: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``template_values``: the template's value of a variable, where the gateway rewrote it (see
    :mod:`local.api_urls`); a shell, ``Parameters`` or ``--env-vars`` value still takes precedence."""
    env = system_subset(shell)
    parameters = env_vars.get("Parameters") or {}
    own = env_vars.get(spec.logical_id) or env_vars.get(spec.name) or {}
    for name, value in {**spec.environment, **(template_values or {})}.items():
        if name in shell:
            value = shell[name]
        if name in parameters:
            value = str(parameters[name])
        if name in own:
            value = str(own[name])
        env[name] = value
    env.update(lambda_variables(spec, region))
    env.update(gateway)
    if redis_url and not env.get("REDIS_URL"):
        env["REDIS_URL"] = redis_url
    return env


def wants_redis(specs: Mapping[str, FunctionSpec], envs: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether some function declares REDIS_URL and would otherwise get an empty one."""
    return any("REDIS_URL" in spec.environment and not envs[lid].get("REDIS_URL") for lid, spec in specs.items())
