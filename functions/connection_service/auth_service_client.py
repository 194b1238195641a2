"""Remote token validation against ts-auth-service (``AUTH_MODE=remote``): catches revoked tokens.

Runs only after the local signature check has accepted the token. The contract (the request, the answers and
what each becomes, the answer cache) is in docs/authentication.md. The token itself is never stored or logged.
httpx is imported here, and this module only in remote mode, so the connect function's cold import stays light.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from .errors import AuthServiceUnavailable, Unauthorized
from .tokens import Identity

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

_REVOKED = "revoked"
_MAX_CACHED = 10_000


def token_digest(token: str) -> str:
    """The cache key (and the only form of a token that may appear in a log: its first 12 hex digits)."""
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def identity_from_answer(body: Any) -> Identity | None:
    """The identity ts-auth-service vouches for, or None when it says the token is not valid.

    The one place that knows the answer's shape: adapt it here if ts-auth-service answers differently.
    Raises ValueError for an answer that does not follow the contract.
    """
    if not isinstance(body, dict):
        raise ValueError("answer is not a JSON object")
    if body.get("valid") is not True:
        return None
    user = body.get("user")
    if not isinstance(user, dict):
        raise ValueError("answer lacks user")
    user_id, tenant_id = user.get("id"), user.get("tenantId")
    if not isinstance(user_id, str) or not isinstance(tenant_id, str):
        raise ValueError("answer lacks user.id or user.tenantId")
    return Identity(tenant_id=tenant_id, user_id=user_id)


class RemoteValidator:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        cache_ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.Client | None = None,
    ) -> None:
        self._url = url
        self._cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)
        self._cache: OrderedDict[str, tuple[float, Identity | str]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteValidator:
        url = settings.ts_auth_service_url.rstrip("/") + "/" + settings.ts_auth_validate_path.lstrip("/")
        return cls(url, timeout_s=settings.ts_auth_timeout_s, cache_ttl_s=settings.ts_auth_cache_ttl_s)

    def confirm(self, token: str, identity: Identity) -> None:
        """Return if ts-auth-service vouches for ``token`` as ``identity``; raise Unauthorized (revoked, or a
        different identity) or AuthServiceUnavailable."""
        digest = token_digest(token)
        answer = self._cached(digest)
        if answer is None:
            answer = self._ask(token, digest)
            self._remember(digest, answer)
        if answer == _REVOKED:
            log.info("token %s refused by ts-auth-service", digest[:12])
            raise Unauthorized()
        if answer != identity:
            log.warning("token %s: ts-auth-service names another identity than the token", digest[:12])
            raise Unauthorized()

    def _ask(self, token: str, digest: str) -> Identity | str:
        try:
            response = self._client.post(self._url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.warning("ts-auth-service unreachable: %s", type(exc).__name__)
            raise AuthServiceUnavailable() from exc
        if response.status_code in (401, 403):
            return _REVOKED
        if response.status_code != 200:
            log.warning("ts-auth-service answered %s for token %s", response.status_code, digest[:12])
            raise AuthServiceUnavailable()
        try:
            identity = identity_from_answer(response.json())
        except ValueError as exc:  # includes JSONDecodeError
            log.warning("ts-auth-service answer off contract: %s", exc)
            raise AuthServiceUnavailable() from exc
        return identity if identity is not None else _REVOKED

    def _cached(self, digest: str) -> Identity | str | None:
        with self._lock:
            entry = self._cache.get(digest)
            if entry is None:
                return None
            expires, answer = entry
            if expires <= self._clock():
                del self._cache[digest]
                return None
            return answer

    def _remember(self, digest: str, answer: Identity | str) -> None:
        if self._cache_ttl_s <= 0:
            return
        with self._lock:
            self._cache[digest] = (self._clock() + self._cache_ttl_s, answer)
            self._cache.move_to_end(digest)
            while len(self._cache) > _MAX_CACHED:
                self._cache.popitem(last=False)

    def close(self) -> None:
        self._client.close()
