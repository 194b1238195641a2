"""One execution environment: a worker process running a Lambda runtime client against the gateway's Runtime API.

States, as in Lambda: ``starting`` (process up, init running) → ``idle`` (parked in ``/invocation/next``) ⇄
``busy`` (exactly one invocation) → ``finishing`` (its result posted, ``/next`` not yet asked) → ``idle`` …; any
state → ``dead``. The environment's variables are the process's real environment;
its stdout and stderr reach the gateway's log prefixed with the function's logical id. A timeout or a crash ends
the process; the pool then starts a fresh one when needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from local.background_tasks import BackgroundTasks
from local.clock import iso_time
from local.emf import MetricsBoard
from local.invocation import InvocationError
from local.logsafe import printable
from local.model import FunctionSpec

log = logging.getLogger("local.lambda")

STARTING, IDLE, BUSY, FINISHING, DEAD = "starting", "idle", "busy", "finishing", "dead"
INIT_LIMIT_S = 10.0
"""Lambda gives a function's init phase 10 s."""
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a synchronous invocation's response."""


@dataclass(slots=True, eq=False)
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    outcome: asyncio.Future[bytes]
    started: float = field(default_factory=time.perf_counter)


class Listener(Protocol):
    """The pool that owns environments: told when one is ready for work and when one has exited."""

    def ready(self, environment: Environment) -> None: ...

    def exited(self, environment: Environment) -> None: ...


class RuntimeEndpoint(Protocol):
    async def listen(self, environment: Environment) -> str: ...

    def close(self, environment: Environment) -> None: ...


def _exit_description(returncode: int) -> str:
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"signal: {-returncode}"
    return {"SIGKILL": "signal: killed", "SIGSEGV": "signal: segmentation fault", "SIGABRT": "signal: aborted"}.get(
        name, f"signal: {name.lower().removeprefix('sig')}"
    )


def _max_memory_mb(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
    return None


class Environment:
    """A worker process serving one function, one invocation at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        variables: dict[str, str],
        command: Sequence[str],
        listener: Listener,
        number: int,
        metrics: MetricsBoard,
    ) -> None:
        self.spec = spec
        self.metrics = metrics
        self.variables = variables
        self.command = list(command)
        self.listener = listener
        self.number = number
        self.label = f"[{spec.logical_id}]"
        self.state = STARTING
        self.process: asyncio.subprocess.Process | None = None
        self.init_error: InvocationError | None = None
        self.init_ms: float | None = None
        self.current: Invocation | None = None
        self.invocations = 0
        self.idle_since = 0.0
        self.retire = False
        self._launched = time.perf_counter()
        self._parked: asyncio.Future[Invocation] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks = BackgroundTasks()
        self._endpoint: RuntimeEndpoint | None = None
        self.exited = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def launch(self, endpoint: RuntimeEndpoint) -> None:
        self._endpoint = endpoint
        variables = dict(self.variables)
        variables["AWS_LAMBDA_RUNTIME_API"] = await endpoint.listen(self)
        variables["AWS_LAMBDA_LOG_STREAM_NAME"] = time.strftime("%Y/%m/%d/[$LATEST]") + os.urandom(16).hex()
        self._launched = time.perf_counter()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                cwd=str(self.spec.code_dir),
                env=variables,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=1024 * 1024,
            )
        except OSError as error:
            self.init_error = InvocationError("Runtime.InvalidEntrypoint", f"{self.command[0]}: {error}")
            self._died(None)
            return
        log.debug("%s environment %d started (pid %d)", self.label, self.number, self.process.pid)
        assert self.process.stdout is not None and self.process.stderr is not None
        relays = [self._spawn(self._relay(self.process.stdout)), self._spawn(self._relay(self.process.stderr))]
        self._spawn(self._watch(relays))
        asyncio.get_running_loop().call_later(INIT_LIMIT_S, self._init_deadline)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        return self._tasks.spawn(coroutine)

    async def _relay(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line over the reader's limit: take what is buffered
                line = await stream.read(1024 * 1024)
            if not line:
                return
            for part in line.decode("utf-8", "replace").rstrip("\r\n").split("\r"):
                readable = self.metrics.record(part)
                if readable is not None:
                    log.info("%s METRICS %s", self.label, printable(readable, limit=64 * 1024))
                else:
                    log.info("%s %s", self.label, printable(part, limit=64 * 1024))

    async def _watch(self, relays: list[asyncio.Task[Any]]) -> None:
        assert self.process is not None
        returncode = await self.process.wait()
        # The process's last words (a traceback) before the failure they explain; grandchildren may hold the pipes.
        await asyncio.wait(relays, timeout=1.0)
        self._died(returncode)

    def _died(self, returncode: int | None) -> None:
        previous, self.state = self.state, DEAD
        if self._timer is not None:
            self._timer.cancel()
        if self._parked is not None and not self._parked.done():
            self._parked.cancel()
        invocation, self.current = self.current, None
        description = _exit_description(returncode) if returncode is not None else "not started"
        if invocation is not None and not invocation.outcome.done():
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {description}"
            invocation.outcome.set_exception(InvocationError("Runtime.ExitError", message))
        if previous == STARTING and self.init_error is None:
            self.init_error = InvocationError("Runtime.ExitError", f"Runtime exited during init: {description}")
        log.debug("%s environment %d exited (%s)", self.label, self.number, description)
        if self._endpoint is not None:
            self._endpoint.close(self)
        self.exited.set()
        self.listener.exited(self)

    def _init_deadline(self) -> None:
        if self.state == STARTING:
            self.init_error = InvocationError(
                "Sandbox.Timedout", f"INIT phase timed out after {INIT_LIMIT_S:.2f} seconds", timed_out=True
            )
            log.info("%s init timed out after %.2f seconds", self.label, INIT_LIMIT_S)
            self.kill()

    def kill(self) -> None:
        """End the process and everything it started (it leads its own process group)."""
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def stop(self, reason: str) -> None:
        log.info("%s environment %d stopped (%s)", self.label, self.number, reason)
        self.kill()

    # --- the Runtime API's side -----------------------------------------------------------------------------

    async def next_invocation(self) -> Invocation:
        """``GET /invocation/next``: the runtime is ready; park until an invocation is handed over."""
        if self.state == STARTING:
            self.init_ms = (time.perf_counter() - self._launched) * 1000
            log.info(
                "%s INIT_REPORT Init Duration: %.2f ms (environment %d, pid %s)",
                self.label,
                self.init_ms,
                self.number,
                self.pid,
            )
        elif self.state == DEAD:
            raise asyncio.CancelledError
        unanswered, self.current = self.current, None
        if unanswered is not None and not unanswered.outcome.done():
            if self._timer is not None:
                self._timer.cancel()
            message = f"the runtime asked for its next invocation without answering RequestId {unanswered.request_id}"
            unanswered.outcome.set_exception(InvocationError("Runtime.NoResponse", message))
        self.state = IDLE
        parked = self._parked = asyncio.get_running_loop().create_future()
        self.listener.ready(self)
        invocation: Invocation = await parked
        return invocation

    def begin(self, invocation: Invocation) -> None:
        """Hand an invocation to this (idle) environment."""
        assert self.state == IDLE and self._parked is not None
        self.state = BUSY
        self.current = invocation
        self.invocations += 1
        self._parked.set_result(invocation)
        delay = invocation.deadline_ms / 1000 - time.time()
        self._timer = asyncio.get_running_loop().call_later(delay, self._timed_out, invocation)

    def _timed_out(self, invocation: Invocation) -> None:
        if self.current is not invocation:
            return
        at = iso_time(time.time_ns() // 1_000_000)
        message = f"{at} {invocation.request_id} Task timed out after {self.spec.timeout:.2f} seconds"
        log.info("%s %s", self.label, message)
        self._report(invocation)
        if not invocation.outcome.done():
            invocation.outcome.set_exception(InvocationError("Sandbox.Timedout", message, timed_out=True))
        self.current = None
        self.kill()

    def _finish(self, request_id: str) -> Invocation | None:
        invocation = self.current
        if invocation is None or invocation.request_id != request_id:
            return None
        self.current = None
        self.state = FINISHING
        if self._timer is not None:
            self._timer.cancel()
        self._report(invocation)
        return invocation

    def respond(self, request_id: str, body: bytes) -> bool:
        """``POST /invocation/{id}/response``; False for an id that is not this environment's invocation."""
        invocation = self._finish(request_id)
        if invocation is None:
            return False
        if not invocation.outcome.done():
            if len(body) > MAX_RESPONSE_BYTES:
                message = f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size"
                invocation.outcome.set_exception(InvocationError("Function.ResponseSizeTooLarge", message))
            else:
                invocation.outcome.set_result(body)
        return True

    def fail(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        """``POST /invocation/{id}/error``."""
        invocation = self._finish(request_id)
        if invocation is None:
            return False
        if not invocation.outcome.done():
            invocation.outcome.set_exception(error_from(body, error_type))
        return True

    def fail_init(self, body: bytes, error_type: str | None) -> None:
        """``POST /init/error``: the runtime exits next."""
        self.init_error = error_from(body, error_type)

    def _report(self, invocation: Invocation) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        duration = (time.perf_counter() - invocation.started) * 1000
        line = (
            f"REPORT RequestId: {invocation.request_id} Duration: {duration:.2f} ms "
            f"Billed Duration: {math.ceil(duration)} ms Memory Size: {self.spec.memory_size} MB"
        )
        used = _max_memory_mb(self.process.pid) if self.process else None
        if used is not None:
            line += f" Max Memory Used: {used} MB"
        if self.invocations == 1 and self.init_ms is not None:
            line += f" Init Duration: {self.init_ms:.2f} ms"
        log.info("%s %s", self.label, line)


def error_from(body: bytes, error_type: str | None) -> InvocationError:
    """The error a runtime posted: its JSON document, or the header alone when the body is not one."""
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    kind = str(document.get("errorType") or error_type or "Unhandled")
    return InvocationError(kind, str(document.get("errorMessage") or ""))


def runtime_command(client: str, handler: str) -> list[str]:
    """The bootstrap of an environment: AWS's runtime interface client, or this package's pure-Python one."""
    module = "awslambdaric" if client == "awslambdaric" else "local.runtime_client"
    return [sys.executable, "-m", module, handler]
