"""Tasks started in the background and held until done (the event loop keeps only weak references to tasks)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundTasks:
    """A set of running tasks: :meth:`spawn` starts one and keeps it until it is done."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def hold(self, task: asyncio.Task[Any]) -> None:
        """Keep a task someone else started until :meth:`release` (or until it is done)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def release(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for the tasks running now (at most ``timeout`` seconds)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def cancel(self) -> None:
        """Cancel the tasks running now and wait until they have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
