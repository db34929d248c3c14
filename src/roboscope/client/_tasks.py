"""Small asyncio helpers shared by the background behaviours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

log = logging.getLogger("roboscope.client")


class Background:
    """A background loop that is stopped between steps, never in the middle of one.

    Cancelling a request in flight does not cancel it on the server: a heartbeat cut off
    that way may still land after the leave that follows it and make the user present again
    for a whole TTL. So `stop` asks the loop to end at its next pause and waits for the step
    in flight (bounded by the HTTP timeouts); only if our own caller is cancelled meanwhile
    is the loop cancelled outright.
    """

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: Coroutine[Any, Any, None], name: str) -> None:
        self._task = asyncio.create_task(loop, name=name)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def pause(self, seconds: float) -> bool:
        """Wait `seconds`; answer True (end the loop) if asked to stop meanwhile."""
        if self._stopping.is_set():
            return True
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        task = self._task
        self._stopping.set()
        if task is None or task.done():
            return
        try:
            await asyncio.wait([task])  # never raises the task's own exception
        except asyncio.CancelledError:
            task.cancel()
            raise


async def finally_(step: Awaitable[object], what: str) -> BaseException | None:
    """Run a clean-up step to completion even if our caller is cancelled meanwhile
    (`asyncio.shield`); log and return its failure instead of masking the caller's error."""
    try:
        await asyncio.shield(step)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("%s failed: %r", what, error)
        return error
    return None
