"""What a scenario runs against: this repo's stack (started here) or a Socket.IO server the user started.

``local``: Redis + ``python -m local`` with this repo's template.yaml, started and stopped by the bench.
``socketio``: a FastAPI + python-socketio server (ASGI, Redis manager) already listening at ``--url``; its
``JWT_SECRET`` and ``INTERNAL_SERVICE_KEY`` must be ``--secret`` and ``--service-key`` (by default the bench's
own, ``bench.common.SECRET`` / ``SERVICE_KEY``). ``--pid`` names its process for the CPU and RSS figures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from .clients import ApiGatewayClient, Client, SocketIOClient
from .common import SECRET, SERVICE_KEY, TEMPLATE, stack, token

KINDS = ("local", "socketio")


@dataclass(frozen=True)
class TargetOptions:
    """The command line's say on the target (``python -m bench --target … --url … --pid …``)."""

    kind: str = "local"
    url: str | None = None
    pid: int | None = None
    secret: str = SECRET
    service_key: str = SERVICE_KEY
    template: Path = TEMPLATE
    """The local stack's template."""


@dataclass
class Target:
    """A running server: how to reach it as a dashboard (``client``) and as an internal service (``base_url``)."""

    kind: str
    base_url: str
    secret: str
    service_key: str
    pid: int | None
    new_client: Callable[[], Client]
    redis_url: str | None = None  # the local stack's own Redis

    def token(self, tenant: str, user: str) -> str:
        return token(tenant, user, self.secret)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Internal-Service-Key": self.service_key}

    async def settle(self, timeout: float = 90.0) -> None:
        """This stack: return once no execution environment is starting or running an invocation, so that a
        measured window does not also hold what came before it (a warm-up's ``$disconnect`` invocations,
        environments still starting). A Socket.IO server has nothing of the kind to wait for."""
        if self.kind != "local":
            return
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as http:
            answer = await http.get("/__local/environments", params={"wait": "settled"})
            answer.raise_for_status()


@contextlib.contextmanager
def open_target(options: TargetOptions) -> Iterator[Target]:
    """The target for one scenario: a fresh local stack each time, or the user's Socket.IO server."""
    if options.kind == "local":
        keys = {"JWT_SECRET": options.secret, "INTERNAL_SERVICE_KEY": options.service_key}
        with stack(extra_env=keys, template=options.template) as st:
            ws_url = st.gateway.ws_url
            yield Target(
                "local", st.gateway.base_url, options.secret, options.service_key, st.pid,
                lambda: ApiGatewayClient(ws_url), st.redis_url,
            )  # fmt: skip
        return
    if options.kind != "socketio" or not options.url:
        raise ValueError("--target socketio needs --url http://HOST:PORT of a running server")
    base_url = options.url.rstrip("/")
    try:
        httpx.get(f"{base_url}/health/", timeout=5)  # any answer will do: it only proves something listens
    except httpx.TransportError as exc:
        raise RuntimeError(f"nothing answers at {base_url} ({type(exc).__name__}: {exc})") from exc
    yield Target(
        "socketio", base_url, options.secret, options.service_key, options.pid, lambda: SocketIOClient(base_url)
    )
