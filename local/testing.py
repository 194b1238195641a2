"""Run the real local gateway (``python -m local``) as a subprocess, for tests.

    from local.testing import LocalGateway

    with LocalGateway("template.yaml", env={"REDIS_URL": url, "JWT_SECRET": "s"}) as gw:
        async with websockets.connect(gw.ws_url + "?token=...") as ws: ...
        boto3.client("apigatewaymanagementapi", endpoint_url=gw.management_endpoint, ...)

The gateway listens on a free port it picks itself (``--port 0``); readiness is its "ready" line on stdout,
never a fixed sleep. ``stop()`` (or leaving the ``with`` block) sends SIGTERM: the gateway closes every socket,
runs ``$disconnect`` for each, stops its embedded Redis and exits.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

_READY = re.compile(r"local gateway ready on (http://[^\s]+):(\d+) stage (\S+)(?: tls (\d+))?")


class GatewayStartError(RuntimeError):
    """The gateway exited or did not become ready; the message carries its output."""


class LocalGateway:
    """A ``python -m local`` subprocess.

    :param template: SAM template path (relative paths are resolved against ``cwd``).
    :param stage: ``--stage`` (default: the template's WebSocket stage, else ``dev``).
    :param env: environment variables for the gateway (and so for the functions that declare them); a value of
        ``None`` removes the variable. The current environment is inherited unless ``inherit_env=False``.
    :param args: extra command-line arguments, e.g. ``["--idle-timeout", "1", "--fault", "410@post#1"]``.
    :param cwd: working directory of the gateway (default: the current one).
    :param startup_timeout: seconds to wait for the ready line.
    """

    def __init__(
        self,
        template: str | os.PathLike[str] = "template.yaml",
        *,
        stage: str | None = None,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
        host: str = "127.0.0.1",
        cwd: str | os.PathLike[str] | None = None,
        inherit_env: bool = True,
        startup_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self.template = str(template)
        self.stage = stage or ""
        self.env = dict(env or {})
        self.args = list(args)
        self.host = host
        self.cwd = str(cwd) if cwd is not None else None
        self.inherit_env = inherit_env
        self.startup_timeout = startup_timeout
        self.python = python
        self.port = 0
        self.tls_port: int | None = None
        """The TLS listener's port (``None`` with ``--no-tls``)."""
        self.process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    # --- addresses ------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (HTTP API routes, Lambda Invoke API, ``/__local/`` admin endpoints)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/STAGE``."""
        return f"ws://{self.host}:{self.port}/{self.stage}"

    @property
    def management_endpoint(self) -> str:
        """``http://127.0.0.1:PORT/STAGE``: ``endpoint_url`` of boto3's ``apigatewaymanagementapi`` client."""
        return f"http://{self.host}:{self.port}/{self.stage}"

    @property
    def wss_url(self) -> str:
        """``wss://127.0.0.1:TLS_PORT/STAGE``: the WebSocket API over TLS."""
        return f"wss://{self.host}:{self.tls_port}/{self.stage}"

    @property
    def secure_management_endpoint(self) -> str:
        """``https://127.0.0.1:TLS_PORT/STAGE``: @connections over TLS (trust the CA the startup log names)."""
        return f"https://{self.host}:{self.tls_port}/{self.stage}"

    # --- output ---------------------------------------------------------------------------------------------

    @property
    def log_lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    @property
    def logs(self) -> str:
        """Everything the gateway printed so far (stdout and stderr)."""
        return "\n".join(self.log_lines)

    def mark(self) -> int:
        """A position in the output, to wait for lines printed after it (see :meth:`wait_for_log`)."""
        with self._changed:
            return len(self._lines)

    def wait_for_log(self, pattern: str | re.Pattern[str], *, since: int = 0, timeout: float = 10.0) -> re.Match[str]:
        """Wait until a line (after position ``since``) matches ``pattern`` (``re.search``); return the match."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._changed:
            position = since
            while True:
                while position < len(self._lines):
                    found = regex.search(self._lines[position])
                    position += 1
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no log line matching {regex.pattern!r} within {timeout} s:\n{self.logs_tail()}"
                    )
                if self.process is not None and self.process.poll() is not None and position >= len(self._lines):
                    raise GatewayStartError(f"gateway exited ({self.process.returncode}):\n{self.logs_tail()}")
                self._changed.wait(min(remaining, 0.5))

    def logs_tail(self, lines: int = 60) -> str:
        return "\n".join(self._lines[-lines:])

    def _read(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    # --- lifecycle ------------------------------------------------------------------------------------------

    def command(self) -> list[str]:
        command = [self.python, "-m", "local", "--template", self.template, "--host", self.host, "--port", "0"]
        if self.stage:
            command += ["--stage", self.stage]
        return command + self.args

    def start(self) -> LocalGateway:
        environment = dict(os.environ) if self.inherit_env else {}
        for key, value in self.env.items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        environment["PYTHONUNBUFFERED"] = "1"
        root = str(Path(__file__).resolve().parent.parent)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (root, environment.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(  # noqa: S603
            self.command(),
            cwd=self.cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name="local-gateway-output", daemon=True)
        self._reader.start()
        try:
            ready = self.wait_for_log(_READY, timeout=self.startup_timeout)
        except (TimeoutError, GatewayStartError) as error:
            self.stop()
            raise GatewayStartError(f"local gateway did not start: {error}") from None
        self.port = int(ready.group(2))
        self.stage = ready.group(3)
        self.tls_port = int(ready.group(4)) if ready.group(4) else None
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait for a graceful exit (SIGKILL after ``timeout``); return the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
