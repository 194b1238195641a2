"""Lambda REQUEST authorizers on ``$connect``: identity sources, the policy verdict, the context."""

from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.event_payloads import authorizer_event
from local.invocation import InvocationError
from local.logsafe import printable
from local.model import AuthorizerSpec

if TYPE_CHECKING:
    from local.gateway import Gateway

log = logging.getLogger("local")


@dataclass(slots=True)
class Verdict:
    status: int
    message: str
    context: dict[str, Any] | None = None


def identity_present(spec: AuthorizerSpec, event: dict[str, Any]) -> bool:
    """Every identity source must be present and non-empty, else API Gateway answers 401 without invoking."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    for source in spec.identity_sources:
        if source.startswith("route.request.header."):
            value = headers.get(source.removeprefix("route.request.header.").lower())
        elif source.startswith("route.request.querystring."):
            value = query.get(source.removeprefix("route.request.querystring."))
        else:
            continue
        if not value:
            return False
    return True


def _statements(policy: Any) -> list[dict[str, Any]]:
    if not isinstance(policy, dict):
        return []
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]


def _listed(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


def policy_allows(policy: Any, method_arn: str) -> bool:
    allowed = False
    for statement in _statements(policy):
        actions = _listed(statement.get("Action"))
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", action) for action in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, resource) for resource in _listed(statement.get("Resource"))):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


async def authorize(gateway: Gateway, spec: AuthorizerSpec, connect: dict[str, Any]) -> Verdict:
    if not identity_present(spec, connect):
        return Verdict(401, "Unauthorized")
    api = gateway.api
    assert api is not None
    model = gateway.model
    method_arn = f"arn:aws:execute-api:{model.region}:{model.account_id}:{api.api_id}/{gateway.stage}/$connect"
    event = authorizer_event(connect, method_arn=method_arn)
    started = time.perf_counter()
    try:
        result = await gateway.invoker.invoke(spec.function, event, timeout=gateway.config.integration_timeout)
    except InvocationError as error:
        if error.message == "Unauthorized":
            return Verdict(401, "Unauthorized")
        log.info("AUTHORIZER %s failed: %s: %s -> 500", spec.name, printable(error.kind), printable(error.message))
        return Verdict(500, "Internal server error")
    latency = int((time.perf_counter() - started) * 1000)
    if not isinstance(result, dict) or not policy_allows(result.get("policyDocument"), method_arn):
        return Verdict(403, "Forbidden")
    context: dict[str, Any] = dict(result.get("context") or {})
    context["principalId"] = result.get("principalId")
    context["integrationLatency"] = latency
    log.info("AUTHORIZER %s allowed principal %s", spec.name, printable(result.get("principalId")))
    return Verdict(200, "", context)
