"""The poster's HTTP/1.1 client over real sockets: kept-alive connections, bounded concurrency, answers framed by
Content-Length, chunked encoding or close, connections the server dropped, timeouts, broken answers and TLS."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connection_service import http1_connection
from connection_service.errors import ConnectionGone, DeliveryFailed
from connection_service.signed_posts import MAX_ATTEMPTS, SignedPoster
from tests.integration.scripted_server import GONE, OK, Reply, ScriptedServer

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture
def slept() -> list[float]:
    return []


def make_poster(server: ScriptedServer, slept: list[float], concurrency: int = 4) -> SignedPoster:
    return SignedPoster(server.endpoint(), CREDENTIALS, "us-east-1", concurrency, slept.append)


def test_kept_alive_connections_are_reused(server: ScriptedServer, slept: list[float]) -> None:
    poster = make_poster(server, slept)

    for n in range(5):
        poster.post(f"c{n}", b"{}")
    assert server.accepted == 1
    poster.post_many(["a", "b", "c"], b"{}")  # three in flight at once: two more connections
    poster.post_many(["a", "b", "c", "d"], b"{}")  # three idle ones reused, one more opened

    assert server.accepted == 4 and len(server.posted) == 12


def test_many_posts_keep_at_most_concurrency_connections_and_answer_in_order(
    server: ScriptedServer, slept: list[float]
) -> None:
    ids = [f"conn-{n:03d}" for n in range(60)]
    server.script("conn-007", Reply(GONE))
    server.script("conn-030", Reply(b"HTTP/1.1 403 Forbidden\r\nx-amzn-ErrorType: ForbiddenException\r\n\r\n", True))
    server.script("conn-031", Reply(b"HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n"))
    four_held = threading.Barrier(4)  # answered only while four are in flight at once, twice over
    for n in range(50, 58):
        server.script(ids[n], Reply(together=four_held))
    poster = make_poster(server, slept, concurrency=4)

    outcomes = poster.post_many(ids, b'{"event":"a"}')

    assert server.max_open == 4
    assert isinstance(outcomes[7], ConnectionGone)
    assert isinstance(outcomes[30], DeliveryFailed) and "403 ForbiddenException" in str(outcomes[30])
    assert [n for n, outcome in enumerate(outcomes) if outcome is not None] == [7, 30]  # the 503 was retried
    assert len(slept) == 1
    assert sorted(cid for cid, _ in server.posted) == sorted([*ids, "conn-031"])


def test_answers_framed_by_chunks_or_close_leave_the_next_answer_intact(
    server: ScriptedServer, slept: list[float]
) -> None:
    chunked = (
        b"HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\nx-amzn-ErrorType: GoneException\r\n\r\n"
        b'5;ext=1\r\n{"mes\r\nB\r\nsage":null}\r\n0\r\nTrailer: x\r\n\r\n'
    )
    server.script("a", Reply(b"HTTP/1.1 100 Continue\r\n\r\n" + OK))
    server.script("b", Reply(chunked))
    server.script("c", Reply(b"HTTP/1.0 200 OK\r\n\r\nbody until close", close=True))
    server.script("d", Reply(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", close=True))
    server.script("e", Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n" + b"x" * 1000))
    poster = make_poster(server, slept, concurrency=1)

    outcomes = poster.post_many(["a", "b", "c", "d", "e", "f"], b"{}")

    assert [type(outcome).__name__ for outcome in outcomes] == ["NoneType", "ConnectionGone", *["NoneType"] * 4]
    assert server.accepted == 4 and slept == []  # a, b, c on one; d; e (too long to read: closed); f


def test_a_connection_the_server_dropped_while_idle_is_replaced_without_a_retry(
    server: ScriptedServer, slept: list[float]
) -> None:
    server.script("a", Reply(close=True))  # answers keep-alive, then closes: an idle timeout
    poster = make_poster(server, slept)
    poster.post("a", b"{}")
    assert server.closed.wait(5)

    poster.post("b", b"{}")

    assert server.accepted == 2 and slept == []


def test_no_answer_a_broken_answer_or_a_timeout_is_retried_then_fails(
    server: ScriptedServer, slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1_connection, "READ_TIMEOUT_S", 0.2)
    server.script("a", Reply(None), Reply(b"SMTP ready\r\n\r\n"), Reply(after_hang_up=True), Reply())
    server.script("b", *[Reply(None)] * MAX_ATTEMPTS)
    poster = make_poster(server, slept)

    outcomes = poster.post_many(["a", "b"], b"{}")

    assert outcomes[0] is None
    assert isinstance(outcomes[1], DeliveryFailed) and f"after {MAX_ATTEMPTS} attempts" in str(outcomes[1])
    assert len(slept) == MAX_ATTEMPTS - 1


def test_an_endpoint_that_refuses_connections_costs_one_attempt_per_slot_and_pass(
    slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[tuple[str, int]] = []

    def refused(host: str, port: int, tls: ssl.SSLContext | None) -> None:
        attempts.append((host, port))
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(http1_connection.HttpConnection, "open", staticmethod(refused))
    poster = SignedPoster("http://127.0.0.1:9/dev", CREDENTIALS, "us-east-1", 4, slept.append)

    outcomes = poster.post_many([f"c{n}" for n in range(50)], b"{}")

    assert all(isinstance(o, DeliveryFailed) and "ConnectionRefusedError after" in str(o) for o in outcomes)
    assert len(attempts) == 4 * MAX_ATTEMPTS and len(slept) == MAX_ATTEMPTS - 1


def test_an_oversized_answer_head_is_refused(
    server: ScriptedServer, slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1_connection, "READ_TIMEOUT_S", 0.5)
    server.script("a", *[Reply(b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000 + b"\r\n\r\n")] * MAX_ATTEMPTS)

    with pytest.raises(DeliveryFailed, match="ProtocolError"):
        make_poster(server, slept).post("a", b"{}")


# --- TLS -----------------------------------------------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ScriptedServer, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    scripted = ScriptedServer(tls=context)
    yield scripted, cert
    scripted.close()


def test_https_posts_go_over_verified_tls_on_kept_alive_connections(
    tls_server: tuple[ScriptedServer, Path], slept: list[float]
) -> None:
    server, cert = tls_server
    trusting = ssl.create_default_context(cafile=str(cert))
    poster = SignedPoster(server.endpoint("localhost"), CREDENTIALS, "us-east-1", 2, slept.append, tls=trusting)
    server.script("b", Reply(GONE))

    outcomes = poster.post_many(["a", "b", "c"], b'{"event":"tls"}')
    poster.post("d", b"{}")

    assert [type(outcome).__name__ for outcome in outcomes] == ["NoneType", "ConnectionGone", "NoneType"]
    assert server.accepted <= 2 and ("a", b'{"event":"tls"}') in server.posted


def test_an_untrusted_certificate_is_refused(tls_server: tuple[ScriptedServer, Path], slept: list[float]) -> None:
    server, _ = tls_server
    poster = SignedPoster(server.endpoint("localhost"), CREDENTIALS, "us-east-1", 2, slept.append)

    with pytest.raises(DeliveryFailed, match="SSLCertVerificationError"):
        poster.post("a", b"{}")

    assert server.posted == []
