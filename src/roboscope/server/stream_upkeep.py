"""`EventStreams`: the open live streams of this process and the one loop that looks after them.

One loop per process does what would otherwise be a task or a timer per stream: every
`TICK_SECONDS` it sends the keep-alive comment to streams that sent nothing for their `ping`
seconds and gives up streams whose client accepted nothing for
`ROBOSCOPE_LIVE_SEND_TIMEOUT_SECONDS` (server/event_stream.py).

It also ends every stream when the server is told to stop (`stop_soon`, from the exit signal:
server/exit_signals.py): first one last read of the change log, at most `CATCH_UP_SECONDS`,
so that a stream ends with everything committed until then, then `stream.closing` on each;
a stream still open `SHUTDOWN_GRACE_SECONDS` after the stop began (its client reads nothing)
is cut, so that it cannot hold the shutdown up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from ..background import Background
from .event_stream import EventStream

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
SHUTDOWN_GRACE_SECONDS = 2.0
CATCH_UP_SECONDS = 1.0
"""Of the grace: the last read of the change log before the streams end."""


class EventStreams:
    """Entered for the app's lifetime (an async context manager): its loop runs meanwhile,
    and every stream still open when it closes ends with `stream.closing`."""

    def __init__(
        self, *, send_timeout: float, catch_up: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.send_timeout = send_timeout
        self.open: set[EventStream] = set()
        self.stopping = False
        self._catch_up = catch_up
        self._stopped_at: float | None = None
        self._tasks = Background("live stream upkeep")

    async def __aenter__(self) -> EventStreams:
        self._tasks.spawn(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._begin_stop()
        self.close_all()
        await self._tasks.aclose()

    def stop_soon(self) -> None:
        """The server was told to stop: end every stream now (see the module docstring),
        before the server waits for its connections to end."""
        if not self.stopping:
            self._begin_stop()
            self._tasks.spawn(self._end_all())

    def close_all(self) -> None:
        for stream in list(self.open):
            stream.subscriber.close()

    def _begin_stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self._stopped_at = asyncio.get_running_loop().time()

    async def _end_all(self) -> None:
        """First what was committed until now (bounded), then `stream.closing`."""
        if self._catch_up is not None:
            try:
                async with asyncio.timeout(CATCH_UP_SECONDS):
                    await self._catch_up()
            except Exception as error:  # (timeout included) the clients resume from their ids
                log.warning("live streams' last catch-up failed: %r", error)
        self.close_all()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self._tick(loop.time())
            except Exception:  # one bad stream must not stop pings and timeouts for all
                log.exception("live stream upkeep failed")

    def _tick(self, now: float) -> None:
        stopped_at = self._stopped_at
        late = stopped_at is not None and now - stopped_at > SHUTDOWN_GRACE_SECONDS
        timeout = self.send_timeout
        for stream in list(self.open):
            if late:
                stream.abort()
            else:
                stream.upkeep(now, timeout, TICK_SECONDS / 2)
