"""Running the server's `send` in the caller, without a task: the live stream's fan-out.

The hub writes each event to thousands of streams from one loop (server/event_stream.py). An
ASGI `send` is a coroutine, and asyncio's public way to run one is a task: a task object and
a turn of the event loop per stream and event, for a `send` that almost never waits (uvicorn
writes to the socket at once unless the client's socket buffer is full). So the coroutine is
stepped here, in the caller, and runs to its end at once in the usual case.

The private detail, kept for that speed and only in this class (tests/server/test_inline_send.py
fails when it changes): what an asyncio coroutine that must wait hands to the task driving it.
It yields either None (let the loop run once, as `asyncio.sleep(0)` does) or the asyncio future
it waits for, to be resumed once that future is done. (Python 3.12's eager tasks do the same
publicly; this code runs on 3.11.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Then = Callable[[BaseException | None], None]


class InlineSend:
    """A coroutine stepped in the caller, and resumed from the event loop's callbacks when
    it had to wait; `then` hears how such a parked run ended."""

    __slots__ = ("_coro", "_then")

    def __init__(self, coro: Coroutine[Any, Any, None], then: Then) -> None:
        self._coro: Coroutine[Any, Any, None] | None = coro
        self._then = then

    @classmethod
    def run(cls, coro: Coroutine[Any, Any, None], then: Then) -> InlineSend | None:
        """Step `coro` now: None when it ran to its end here (its error, if any, is raised
        here); else the parked run, whose end `then(error or None)` hears later. (The usual
        case makes no object at all.)"""
        try:
            waiting = coro.send(None)
        except StopIteration:
            return None
        run = cls(coro, then)
        run._park(waiting)
        return run

    def close(self) -> None:
        """Give the parked run up (`then` is not called): the coroutine is closed where it
        waits, so its own cleanup runs."""
        coro, self._coro = self._coro, None
        if coro is not None:
            coro.close()

    def _park(self, waiting: object) -> None:
        """Resume the coroutine when what it yielded says it may go on."""
        if waiting is None:
            asyncio.get_running_loop().call_soon(self._resume)
        elif asyncio.isfuture(waiting):
            waiting.add_done_callback(self._resume)
        else:
            coro, self._coro = self._coro, None
            if coro is not None:
                coro.close()
            raise RuntimeError(f"a send waited for {waiting!r}, not an asyncio future")

    def _resume(self, _: object = None) -> None:
        coro = self._coro
        if coro is None:
            return  # closed meanwhile
        try:
            self._park(coro.send(None))
        except StopIteration:
            self._coro = None
            self._then(None)
        except (Exception, asyncio.CancelledError) as error:
            self._coro = None
            self._then(error)
