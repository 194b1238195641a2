"""A JWKS endpoint (an identity provider's, a service we do not own) for integration tests.

Serves the public halves of generated RSA/EC keys at ``/.well-known/jwks.json``, signs tokens with the private
halves, counts fetches, rotates keys, and can misbehave: stopped (connection refused), broken (500, not JSON) or
hanging (holds each request until released, or ``hold_max_s`` at most, then answers normally).
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.stub_server import QuietHandler, StubServer, answer_json, stand_in

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        status, body = stand_in(self, JwksServer).fetched(self.path)
        answer_json(self, status, body)


class JwksServer(StubServer):
    def __init__(self, hold_max_s: float = 3.0) -> None:
        self.keys: dict[str, tuple[str, PrivateKey]] = {}  # kid -> (algorithm, private key)
        self.extra_jwks: list[dict[str, Any]] = []  # served as they are (e.g. a symmetric "oct" key)
        self.fetches = 0
        self.mode = "ok"  # ok | broken | hanging
        self._lock = threading.Lock()
        super().__init__(_Handler, hold_max_s)

    def fetched(self, path: str) -> tuple[int, bytes]:
        """Count a fetch; the status and body that answer it."""
        with self._lock:
            self.fetches += 1
            mode = self.mode
        if mode == "hanging":
            self.hold()
        if mode == "broken":
            return 500, b"<html>upstream error</html>"
        if path != "/.well-known/jwks.json":
            return 404, b"{}"
        return 200, json.dumps(self.jwks()).encode()

    @property
    def url(self) -> str:
        return f"{self.origin}/.well-known/jwks.json"

    def add_key(self, algorithm: str = "RS256", kid: str | None = None) -> str:
        """Generate a key pair for ``algorithm`` (RS256 or ES256), publish it; returns its kid."""
        kid = kid or uuid.uuid4().hex[:16]
        key: PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm.startswith("ES")
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        with self._lock:
            self.keys[kid] = (algorithm, key)
        return kid

    def rotate(self, algorithm: str = "RS256") -> str:
        """Replace every published key by a new one; returns the new kid."""
        with self._lock:
            self.keys.clear()
        return self.add_key(algorithm)

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            published = []
            for kid, (algorithm, key) in self.keys.items():
                public = key.public_key()
                jwk = (
                    ECAlgorithm.to_jwk(public, as_dict=True)
                    if isinstance(public, ec.EllipticCurvePublicKey)
                    else RSAAlgorithm.to_jwk(public, as_dict=True)
                )
                jwk.update(kid=kid, use="sig", alg=algorithm)
                published.append(jwk)
            return {"keys": published + list(self.extra_jwks)}

    def sign(self, claims: dict[str, Any], kid: str, *, header_kid: object = None, algorithm: str | None = None) -> str:
        """A token signed with ``kid``'s private key; ``header_kid`` overrides the kid written in the header."""
        key_algorithm, key = self.keys[kid]
        headers = {"kid": kid if header_kid is None else header_kid}
        return jwt.encode(claims, key, algorithm=algorithm or key_algorithm, headers=headers)
