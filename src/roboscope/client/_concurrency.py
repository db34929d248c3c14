"""The few concurrency primitives the client behaviours need, in both flavours.

The client and its behaviours (presence, held locks, marker sync, retry) are written once,
async, in `_async/`; `scripts/unasync_client.py` turns that source into the blocking `_sync/` by
renaming tokens (`AsyncBackground` → `Background`, `async_sleep` → `sleep`, and dropping
`async`/`await`). This module is where the two flavours really differ, so it is written by
hand, each name beside its twin: asyncio tasks and events for the async client, daemon
threads and `threading` events for the blocking one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger("roboscope.client")

T = TypeVar("T")
A = TypeVar("A")

AsyncFetch = Callable[[], Awaitable[T]]
"""A call without arguments whose result is awaited (`lambda: api.get_marker(id)`)."""
Fetch = Callable[[], T]

AsyncSend = Callable[[A], Awaitable[T]]
"""A call with one argument whose result is awaited (`lambda patch: api.update_…(…)`)."""
Send = Callable[[A], T]

AsyncEvent = asyncio.Event
Event = threading.Event

AsyncMutex = asyncio.Lock
Mutex = threading.Lock

async_sleep = asyncio.sleep
sleep = time.sleep


class AsyncBackground:
    """A background loop (an asyncio task) that is stopped between steps, never in the
    middle of one.

    Cancelling a request in flight does not cancel it on the server: a heartbeat cut off
    that way may still land after the leave that follows it and make the user present again
    for a whole TTL. So `stop` asks the loop to end at its next pause and waits for the step
    in flight (bounded by the HTTP timeouts); only if our own caller is cancelled meanwhile
    is the loop cancelled outright.
    """

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._task = asyncio.create_task(loop(), name=name)

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

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def interrupt(self, close: Callable[[], object] | None = None) -> None:
        """Stop now, even in the middle of a step: for a loop whose step is a long read (a
        live stream), which is safe to cut. The task is cancelled (`close` is for threads)."""
        task = self._task
        self._stopping.set()
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

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


class Background:
    """`AsyncBackground` for the blocking client: the loop runs in a daemon thread (so a
    behaviour that was never closed cannot keep the program from exiting), and `stop` lets
    the step in flight finish, for the same reason, then joins the thread."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, loop: Callable[[], None], name: str) -> None:
        self._thread = threading.Thread(target=loop, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`; answer True (end the loop) if asked to stop meanwhile."""
        return self._stopping.wait(max(0.0, seconds))

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def interrupt(self, close: Callable[[], object] | None = None) -> None:
        """`AsyncBackground.interrupt` for threads, which cannot be cancelled: `close` shuts
        the connection the loop is reading, the loop's read fails at the next bytes the
        server sends (a live stream's keep-alive) and the loop, finding itself stopped,
        ends; then the thread is joined."""
        self._stopping.set()
        if close is not None:
            cleanup(close, "closing the stream")
        self.stop()

    def stop(self) -> None:
        thread = self._thread
        self._stopping.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()


async def async_cleanup(step: AsyncFetch[object], what: str) -> BaseException | None:
    """Run a clean-up step to completion even if our caller is cancelled meanwhile
    (`asyncio.shield`); log and return its failure instead of masking the caller's error."""
    try:
        await asyncio.shield(step())
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("%s failed: %r", what, error)
        return error
    return None


def cleanup(step: Fetch[object], what: str) -> BaseException | None:
    """`async_cleanup` for the blocking client (a thread cannot be cancelled midway)."""
    try:
        step()
    except Exception as error:
        log.warning("%s failed: %r", what, error)
        return error
    return None


async def async_notify(handler: Callable[[T], Awaitable[None] | None], value: T) -> None:
    """Call a handler that may be a plain function or a coroutine function."""
    outcome = handler(value)
    if inspect.isawaitable(outcome):
        await outcome


def notify(handler: Callable[[T], None], value: T) -> None:
    handler(value)
