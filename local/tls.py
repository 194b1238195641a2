"""TLS for the gateway's second listener: a local certificate authority, made once and kept in a per-user data
directory, signs the gateway's certificate; functions trust it through a CA bundle in the same directory.

Nothing is written outside that directory and nothing is installed into the system's trust store. The
``cryptography`` package is imported only when a certificate has to be made (first run, or new host names).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import ssl
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APP_DIR_NAME = "local-apigateway"
_CA_CERT, _CA_KEY = "ca.pem", "ca-key.pem"
_CA_DAYS, _SERVER_DAYS = 3650, 397
_RENEW_BEFORE = 7 * 86400


def default_data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The per-user data directory: ``$XDG_DATA_HOME/local-apigateway`` (``~/.local/share/…``), or on macOS
    ``~/Library/Application Support/local-apigateway``."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    trust_bundle: Path
    """The system's roots (or the shell's bundle) plus the local CA: what functions' clients verify against."""

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def certificate_hosts(host: str, extra: Iterable[str] = ()) -> list[str]:
    """The names the gateway's certificate covers: loopback ones, the listening host, names allowed in."""
    names = ["localhost", "127.0.0.1", "::1"]
    for name in (host, *extra):
        if name and name not in ("*", "0.0.0.0", "::") and name not in names:  # noqa: S104
            names.append(name)
    return names


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One gateway at a time makes or renews certificates (others may start at the same moment)."""
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def prepare(data_dir: Path, hosts: list[str], shell: Mapping[str, str]) -> TlsFiles:
    """The CA (made on first use), a server certificate for ``hosts`` signed by it, and the trust bundle."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(data_dir):
        ca_cert, ca_key = data_dir / _CA_CERT, data_dir / _CA_KEY
        made_ca = not (ca_cert.exists() and ca_key.exists())
        if made_ca:
            from local.certificates import make_ca

            cert_pem, key_pem = make_ca(_CA_DAYS)
            _write(ca_key, key_pem, 0o600)
            _write(ca_cert, cert_pem)
        ca_pem = ca_cert.read_bytes()
        tag = hashlib.sha256(ca_pem + "\n".join(hosts).encode()).hexdigest()[:12]
        server_cert, server_key, meta = (data_dir / f"server-{tag}{suffix}" for suffix in (".pem", "-key.pem", ".json"))
        if made_ca or not _fresh(meta, server_cert, server_key):
            from local.certificates import make_server_certificate

            cert_pem, key_pem = make_server_certificate(ca_pem, ca_key.read_bytes(), hosts, _SERVER_DAYS)
            _write(server_key, key_pem, 0o600)
            _write(server_cert, cert_pem)
            expires = time.time() + _SERVER_DAYS * 86400
            _write(meta, json.dumps({"hosts": hosts, "expires": expires}).encode())
        bundle = _trust_bundle(ca_pem, shell)
        bundle_path = data_dir / f"ca-bundle-{hashlib.sha256(bundle).hexdigest()[:12]}.pem"
        if not bundle_path.exists():
            _write(bundle_path, bundle)
    return TlsFiles(ca_cert, server_cert, server_key, bundle_path)


def _fresh(meta: Path, cert: Path, key: Path) -> bool:
    try:
        expires = float(json.loads(meta.read_text())["expires"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return cert.exists() and key.exists() and expires - time.time() > _RENEW_BEFORE


def _system_roots(shell: Mapping[str, str]) -> bytes:
    """The roots a function would trust without the gateway: the shell's bundle, else certifi's, else OpenSSL's."""
    candidates: list[Any] = [shell.get(name) for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")]
    with contextlib.suppress(ImportError):
        import certifi

        candidates.append(certifi.where())
    candidates.append(ssl.get_default_verify_paths().cafile)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            with contextlib.suppress(OSError):
                return Path(candidate).read_bytes()
    return b""


def _trust_bundle(ca_pem: bytes, shell: Mapping[str, str]) -> bytes:
    roots = _system_roots(shell)
    return roots.rstrip(b"\n") + b"\n\n# local-apigateway CA\n" + ca_pem if roots else ca_pem
