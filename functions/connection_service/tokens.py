"""Token verification: who is connecting, for which tenant.

:meth:`TokenVerifier.verify` raises :class:`Unauthorized` for any token it does not accept; it never reveals why
to the client (the reason goes to the log, never the token itself).

Keys: HMAC algorithms use ``JWT_SECRET`` only; asymmetric algorithms use ``JWT_PUBLIC_KEY`` or the JWKS at
``JWKS_URL`` only. The key is chosen by the algorithm's family, so a token can never make an HMAC check use a
public key (algorithm confusion). A JWKS that cannot be fetched refuses the token (401); it never crashes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import jwt

from .errors import Unauthorized
from .secret_cache import Secret

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

_HMAC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

# Longer tokens are refused before any parsing: ts-auth-service's tokens are well under 2 KB, and a URL or a
# header that size is already abuse. Bounds the work an anonymous client can make us do.
MAX_TOKEN_LENGTH = 8 * 1024
_MAX_LOGGED = 64


@dataclass(frozen=True, slots=True)
class Identity:
    tenant_id: str
    user_id: str


def _refuse(reason: str, *args: object) -> NoReturn:
    """Log why (never the token) and raise the generic 401."""
    log.info("token refused: " + reason, *args)
    raise Unauthorized()


def _short(value: object) -> str:
    """An attacker-controlled value, made safe to log (bounded, repr-escaped)."""
    return repr(value)[:_MAX_LOGGED]


def _key_type(algorithm: str) -> str:
    if algorithm.startswith(("RS", "PS")):
        return "RSA"
    if algorithm.startswith("ES"):
        return "EC"
    return "OKP"


class JwksKeys:
    """Signing keys from a JWKS endpoint: the set is cached for ``lifespan_s``; a token with an unknown ``kid``
    triggers one refetch (key rotation), at most once per ``refetch_interval_s`` (so a flood of made-up kids
    cannot turn into a flood of fetches). Fetches have a short ``timeout_s``; any failure is a refusal."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        lifespan_s: float,
        refetch_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The kid lookup is ours, not PyJWKClient.get_signing_key's: its cooldown counts from every fetch and
        # would delay a rotation seen right after a cold start; ours counts from the last *forced* refetch only.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=lifespan_s, timeout=timeout_s)
        self._refetch_interval_s = refetch_interval_s
        self._clock = clock
        self._last_refetch: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: object, algorithm: str) -> Any:
        if not isinstance(kid, str) or not kid:
            _refuse("no kid in the token header")
        try:
            with self._lock:
                match = _match(self._client.get_signing_keys(), kid)
                if match is None and self._may_refetch():
                    match = _match(self._client.get_signing_keys(refresh=True), kid)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS fetch failed: %s", type(exc.__cause__ or exc).__name__)
            raise Unauthorized() from exc
        except jwt.PyJWTError as exc:
            log.warning("JWKS unusable: %s", type(exc).__name__)
            raise Unauthorized() from exc
        if match is None:
            _refuse("unknown kid %s", _short(kid))
        if match.key_type != _key_type(algorithm):
            _refuse("kid %s is a %s key, token says %s", _short(kid), match.key_type, algorithm)
        return match.key

    def _may_refetch(self) -> bool:
        now = self._clock()
        if self._last_refetch is not None and now - self._last_refetch < self._refetch_interval_s:
            return False
        self._last_refetch = now
        return True


def _match(keys: list[jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
    return next((key for key in keys if key.key_id == kid), None)


class TokenVerifier:
    """Verifies JWTs with an explicit algorithm allow-list; the key is chosen by the algorithm's family."""

    def __init__(self, settings: Settings, hmac_secret: Secret | None = None) -> None:
        """``hmac_secret``: the JWT secret as fetched from Secrets Manager (re-read once when a signature does not
        verify with the cached value: a rotation); without it, ``settings.jwt_secret``."""
        unknown = set(settings.jwt_algorithms) - _HMAC - _ASYMMETRIC
        if unknown:
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown)}")
        self._algorithms = list(settings.jwt_algorithms)
        self._hmac_only = set(self._algorithms) <= _HMAC
        self._secret = hmac_secret or Secret("JWT_SECRET", value=settings.jwt_secret.get_secret_value())
        self._public_key = settings.jwt_public_key.replace("\\n", "\n")
        self._jwks = (
            JwksKeys(
                settings.jwks_url,
                timeout_s=settings.jwks_timeout_s,
                lifespan_s=settings.jwks_cache_ttl_s,
                refetch_interval_s=settings.jwks_refetch_interval_s,
            )
            if settings.jwks_url
            else None
        )
        self._audience = settings.jwt_audience or None
        self._issuer = settings.jwt_issuer or None
        self._tenant_claim = settings.jwt_tenant_claim
        self._leeway = settings.jwt_leeway_s

    def verify(self, token: str | None) -> Identity:
        if not token:
            _refuse("missing token")
        if len(token) > MAX_TOKEN_LENGTH:
            _refuse("token of %d characters", len(token))
        try:
            header, algorithms = self._header(token)
            try:
                claims = self._decode(token, algorithms, header)
            except jwt.InvalidSignatureError:
                if algorithms[0] not in _HMAC or not self._secret.refetch():
                    raise
                claims = self._decode(token, algorithms, header)  # the secret was rotated: once more with the new one
        except Unauthorized:
            raise
        except jwt.InvalidAlgorithmError:
            _refuse("algorithm %s is not allowed", _short(_algorithm_of(token)))
        except (jwt.PyJWTError, ValueError, TypeError, UnicodeError) as exc:
            _refuse("%s", type(exc).__name__)
        return self._identity(claims)

    def _header(self, token: str) -> tuple[dict[str, Any], list[str]]:
        """The token's header and the algorithms to decode it with. When every allowed algorithm is HMAC, one key
        serves them all and pyjwt checks the header's ``alg`` against the list as it decodes: the token is parsed
        once, not twice."""
        if self._hmac_only:
            return {}, self._algorithms
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            _refuse("algorithm %s is not allowed", _short(algorithm))
        return header, [algorithm]

    def _decode(self, token: str, algorithms: list[str], header: dict[str, Any]) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=self._key_for(algorithms[0], header),
            algorithms=algorithms,
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
        )
        return claims

    def _key_for(self, algorithm: str, header: dict[str, Any]) -> Any:
        if algorithm in _HMAC:
            secret = self._secret.value()
            if not secret:
                _refuse("no HMAC secret configured")
            return secret
        if self._jwks is not None:
            return self._jwks.key_for(header.get("kid"), algorithm)
        if self._public_key:
            return self._public_key
        _refuse("no public key configured")

    def _identity(self, claims: dict[str, Any]) -> Identity:
        tenant = claims.get(self._tenant_claim)
        user = claims.get("sub")
        if not isinstance(tenant, str) or not tenant or not isinstance(user, str) or not user:
            _refuse("token lacks tenant claim %s or subject", _short(self._tenant_claim))
        if len(tenant) > 128 or len(user) > 256 or not (_safe(tenant) and _safe(user)):
            # Braces would escape the tenant's Redis hash tag; control characters would forge log lines.
            _refuse("malformed tenant %s or subject %s", _short(tenant), _short(user))
        return Identity(tenant_id=tenant, user_id=user)


def _algorithm_of(token: str) -> object:
    """The ``alg`` a token's header names (for the log), or ``None``."""
    try:
        return jwt.get_unverified_header(token).get("alg")
    except (jwt.PyJWTError, ValueError, TypeError, UnicodeError):
        return None


def _safe(value: str) -> bool:
    return value.isprintable() and not any(c in "{}" or c.isspace() for c in value)


def issue_token(
    secret: str, tenant_id: str, user_id: str, ttl_s: int, now: float, tenant_claim: str = "tenant_id"
) -> str:
    """An HS256 token as ts-auth-service issues them (development and tests)."""
    claims = {"sub": user_id, tenant_claim: tenant_id, "iat": int(now), "exp": int(now) + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")
