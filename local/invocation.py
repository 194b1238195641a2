"""What every invoker offers the gateway, and how an invocation fails."""

from __future__ import annotations

from typing import Any, Protocol


class InvocationError(Exception):
    """The function failed as Lambda reports it: ``kind`` is Lambda's ``errorType`` (the handler's exception name,
    ``Runtime.ImportModuleError``, ``Runtime.ExitError``, ``Sandbox.Timedout``, …)."""

    def __init__(self, kind: str, message: str, *, timed_out: bool = False) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.timed_out = timed_out


class Invoker(Protocol):
    async def start(self) -> None: ...

    async def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> Any:
        """The function's JSON result; raises :class:`InvocationError`. ``timeout`` bounds the wait of the caller
        (API Gateway's integration timeout), never the function's own ``Timeout``."""
        ...

    def environments(self) -> dict[str, list[dict[str, Any]]]:
        """Each function's execution environments (pid, state, invocations, init duration)."""
        ...

    def metrics(self) -> list[dict[str, Any]]:
        """Running totals of the metrics the functions printed in Embedded Metric Format."""
        ...

    async def settled(self) -> None:
        """Return once no execution environment is starting or running an invocation and none is awaited."""
        ...

    def reload(self) -> int:
        """Make the next invocations cold-start with fresh code; returns how many environments or modules went."""
        ...

    async def shutdown(self) -> None: ...
