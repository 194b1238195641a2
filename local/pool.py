"""Execution environments per function, scaled as Lambda scales them.

An invocation takes an idle environment (the most recently used: warm reuse), else waits for the first to free
up; when that takes a moment (``SCALE_OUT_DELAY_S``) a new one starts, as long as the function has fewer than
``limit``, one cold start at a time.
Environments idle for ``idle_timeout`` seconds are stopped. An environment that fails its init answers one waiting
invocation with the init error; the next invocation starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from local.background_tasks import BackgroundTasks
from local.emf import MetricsBoard
from local.ids import lambda_request_id
from local.invocation import InvocationError
from local.logsafe import printable
from local.model import FunctionSpec
from local.runtime_api import RuntimeApiServer
from local.sandbox import IDLE, STARTING, Environment, Invocation

log = logging.getLogger("local.lambda")

SCALE_OUT_DELAY_S = 0.05
"""How long an invocation waits for a busy environment to free up before another one starts."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class FunctionPool:
    def __init__(
        self,
        spec: FunctionSpec,
        variables: dict[str, str],
        command: list[str],
        endpoint: RuntimeApiServer,
        *,
        limit: int,
        idle_timeout: float,
        metrics: MetricsBoard,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.spec = spec
        self.on_change = on_change
        """Called when an environment has parked with nothing to do, or has exited."""
        self.metrics = metrics
        self.variables = variables
        self.command = command
        self.endpoint = endpoint
        self.limit = max(1, limit)
        self.idle_timeout = idle_timeout
        self.environments: set[Environment] = set()
        self.idle: list[Environment] = []
        self.waiting: deque[tuple[float, asyncio.Future[Environment]]] = deque()
        """Invocations waiting for an environment, oldest first, with the loop time they began to wait."""
        self._scale_timer: asyncio.TimerHandle | None = None
        self.closed = False
        self._numbers = itertools.count(1)
        self._launches = BackgroundTasks()

    # --- invoking -------------------------------------------------------------------------------------------

    async def invoke(self, payload: bytes, wait: float | None = None) -> bytes:
        """Run one invocation; ``wait`` bounds how long the caller waits, the function's Timeout bounds the run."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        environment = self._take_idle()
        while environment is None or environment.state != IDLE:  # one handed over may have died meanwhile
            remaining = None if wait is None else wait - (loop.time() - started)
            environment = self._take_idle() or await self._wait_for_environment(remaining)
        deadline_ms = time.time_ns() // 1_000_000 + int(self.spec.timeout * 1000)
        invocation = Invocation(lambda_request_id(), payload, deadline_ms, loop.create_future())
        invocation.outcome.add_done_callback(_retrieve)
        environment.begin(invocation)
        if wait is None or wait >= self.spec.timeout:
            return await invocation.outcome
        try:
            return await asyncio.wait_for(asyncio.shield(invocation.outcome), wait - (loop.time() - started))
        except asyncio.TimeoutError:
            raise InvocationError("Sandbox.Timedout", f"no answer within {wait:.2f} seconds", timed_out=True) from None

    def _take_idle(self) -> Environment | None:
        while self.idle:
            environment = self.idle.pop()
            if environment.state == IDLE:
                return environment
        return None

    async def _wait_for_environment(self, wait: float | None) -> Environment:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Environment] = loop.create_future()
        self.waiting.append((loop.time(), waiter))
        self._scale()
        try:
            return await asyncio.wait_for(waiter, wait)
        except asyncio.TimeoutError:
            message = f"no execution environment became available within {wait:.2f} seconds"
            raise InvocationError("Sandbox.Timedout", message, timed_out=True) from None
        except BaseException:
            # Cancelled just as an environment was handed over: give it back.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.ready(waiter.result())
            raise

    def _scale(self) -> None:
        """Start an environment when an invocation has waited ``SCALE_OUT_DELAY_S`` for one (at once when the
        function has none), one cold start at a time. On a laptop's few cores an environment that finishes within
        milliseconds serves a burst sooner than new interpreters could start, and they would slow it down; a
        sustained queue or slow invocations still scale out, up to the limit."""
        waiting = self.waiting
        while waiting and waiting[0][1].done():
            waiting.popleft()
        if not waiting or self.closed or len(self.environments) >= self.limit:
            return
        if any(environment.state == STARTING for environment in self.environments):
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - waiting[0][0]
        if not self.environments or waited >= SCALE_OUT_DELAY_S:
            self._start()
        elif self._scale_timer is None:
            self._scale_timer = loop.call_later(SCALE_OUT_DELAY_S - waited, self._scale_later)

    def _scale_later(self) -> None:
        self._scale_timer = None
        self._scale()

    def _start(self) -> None:
        environment = Environment(self.spec, self.variables, self.command, self, next(self._numbers), self.metrics)
        self.environments.add(environment)
        self._launches.spawn(environment.launch(self.endpoint))

    # --- told by environments -------------------------------------------------------------------------------

    def ready(self, environment: Environment) -> None:
        if environment.retire or self.closed:
            environment.stop("code reloaded" if environment.retire else "gateway stopping")
            return
        while self.waiting:
            _, waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(environment)
                self._scale()
                return
        environment.idle_since = time.monotonic()
        self.idle.append(environment)
        self.on_change()

    def exited(self, environment: Environment) -> None:
        self.environments.discard(environment)
        with contextlib.suppress(ValueError):
            self.idle.remove(environment)
        if environment.init_ms is None:  # died during init: answer one waiting invocation with why
            error = environment.init_error or InvocationError("Runtime.ExitError", "Runtime exited during init")
            log.info("%s init failed: %s: %s", environment.label, printable(error.kind), printable(error.message))
            while self.waiting:
                _, waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
                    break
        self._scale()
        self.on_change()

    @property
    def settled(self) -> bool:
        """No environment starting or running an invocation, and no invocation waiting for one."""
        idle = set(self.idle)
        parked = all(e in idle and e.state == IDLE for e in self.environments)
        return parked and all(waiter.done() for _, waiter in self.waiting)

    # --- housekeeping ---------------------------------------------------------------------------------------

    def reap(self, now: float) -> None:
        for environment in [e for e in self.idle if now - e.idle_since >= self.idle_timeout]:
            self.idle.remove(environment)
            environment.stop(f"idle for {self.idle_timeout:g} s")

    def retire_all(self) -> int:
        """Stop idle environments now and busy ones when their invocation ends: the next invocations cold-start."""
        count = len(self.environments)
        for environment in self.idle:
            environment.stop("code reloaded")
        self.idle.clear()
        for environment in self.environments:
            environment.retire = True
        return count

    async def close(self) -> None:
        self.closed = True
        environments = list(self.environments)
        for environment in environments:
            environment.kill()
        for _, waiter in self.waiting:
            if not waiter.done():
                waiter.set_exception(InvocationError("Runtime.ExitError", "the gateway is stopping"))
        if environments:
            await asyncio.wait([asyncio.create_task(e.exited.wait()) for e in environments], timeout=5)


class EnvironmentInvoker:
    """Invokes functions in execution environments of their own (worker processes speaking the Runtime API)."""

    def __init__(
        self,
        specs: Mapping[str, FunctionSpec],
        variables: Mapping[str, dict[str, str]],
        *,
        command: Callable[[FunctionSpec], list[str]],
        limit: int,
        idle_timeout: float,
    ) -> None:
        self.endpoint = RuntimeApiServer()
        self.board = MetricsBoard()
        self.pools = {
            logical_id: FunctionPool(
                spec,
                variables[logical_id],
                command(spec),
                self.endpoint,
                limit=limit,
                idle_timeout=idle_timeout,
                metrics=self.board,
                on_change=self._changed,
            )
            for logical_id, spec in specs.items()
        }
        self._settle_waiters: list[asyncio.Future[None]] = []
        self.idle_timeout = idle_timeout
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        interval = max(0.05, min(self.idle_timeout / 4, 10.0))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for pool in self.pools.values():
                pool.reap(now)

    async def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> Any:
        body = await self.pools[logical_id].invoke(json.dumps(event).encode(), timeout)
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace")

    def reload(self) -> int:
        return sum(pool.retire_all() for pool in self.pools.values())

    async def settled(self) -> None:
        """Return once every function's environments are parked with nothing to do (see FunctionPool.settled)."""
        if all(pool.settled for pool in self.pools.values()):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._settle_waiters.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._settle_waiters.remove(waiter)

    def _changed(self) -> None:
        if self._settle_waiters and all(pool.settled for pool in self.pools.values()):
            for waiter in self._settle_waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def environments(self) -> dict[str, list[dict[str, Any]]]:
        """Each function's environments, for the admin endpoint."""
        return {
            logical_id: [
                {"number": e.number, "pid": e.pid, "state": e.state, "invocations": e.invocations, "initMs": e.init_ms}
                for e in sorted(pool.environments, key=lambda e: e.number)
            ]
            for logical_id, pool in self.pools.items()
        }

    def metrics(self) -> list[dict[str, Any]]:
        return self.board.summary()

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(*(pool.close() for pool in self.pools.values()))
        await self.endpoint.close_all()
