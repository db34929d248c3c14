"""Background tasks that live exactly as long as their owner: the app's state, the live hub.

`asyncio.TaskGroup` is not the tool here: these loops run until they are stopped, one failing
must not stop the others, and a stop must not wait forever for a task that swallowed its
cancel (redis-py can, while it connects: `stop_tasks`). A `Background` is an async context
manager, so its owner enters it into the app's `AsyncExitStack` like any other resource.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from .realtime.connection import stop_tasks

log = logging.getLogger(__name__)


class Background:
    """A set of tasks, started by `spawn` while open and all stopped when it closes."""

    __slots__ = ("_closed", "_tasks", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        """What the tasks are for, in the warning about tasks that would not stop."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` as a task until it ends or the set closes. Once closed, `work` is
        discarded: nothing is started that nobody would stop."""
        if self._closed:
            work.close()
            return
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> Background:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every task (see `stop_tasks`); later `spawn`s start nothing."""
        self._closed = True
        if left := await stop_tasks(self._tasks):
            log.warning("%d %s tasks did not stop", left, self.name)
        self._tasks.clear()
