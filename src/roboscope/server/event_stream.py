"""The live stream's HTTP response: lean enough for thousands of idle streams per process.

A stream costs one coroutine, the request's own, and no task of its own; an event costs each
stream one call, not a task switch:

- the hub writes each event's frame, encoded once for all, straight to every stream's
  `send` from its own loop (`EventStream._write`). The server's `send` returns at once
  unless the client's socket is full; then that one send is parked until the socket drains,
  and later frames wait behind it, at most `ROBOSCOPE_LIVE_QUEUE_SIZE` of them: past that
  the stream is dropped with `stream.dropped`;
- the request's coroutine sends the catch-up, then waits in `receive()`, which answers when
  the client goes away (its slot is freed at once). When the stream is to end (session
  deleted, dropped, server stopping) it is woken by cancelling that wait;
- one loop per process (`EventStreams`) does what would otherwise be a task or a timer per
  stream: the keep-alive comment on streams that sent nothing for their `ping` seconds, the
  end of a stream whose client accepted nothing for `ROBOSCOPE_LIVE_SEND_TIMEOUT_SECONDS`,
  and `stream.closing` on every stream when the server stops.

Frames after the response head go to the `send` that the edge received (in the scope under
`RAW_SEND`: server/middleware.py), past the wrappers that only look at the head; the head and
the end of the response take the ordinary path through every middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..services.live import PING_FRAME, LiveHub, Subscriber

log = logging.getLogger(__name__)

RAW_SEND = "roboscope.send"
"""Scope key: the `send` beneath the app's middleware wrappers (set by the edge)."""

TICK_SECONDS = 0.5
SHUTDOWN_GRACE_SECONDS = 2.0
CATCH_UP_SECONDS = 1.0
"""Of the grace: the last read of the change log before the streams end."""
_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each frame on at once
)
_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


class EventStreams:
    """The open streams of this process and the one loop that looks after all of them."""

    def __init__(
        self, *, send_timeout: float, catch_up: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.send_timeout = send_timeout
        self.open: set[EventStream] = set()
        self.stopping = False
        self._catch_up = catch_up
        self._closed_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """The app is stopping: end every stream still open, then stop the loop."""
        self.close_all()
        for task in (self._task, self._ending):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def close_all(self) -> None:
        self._begin_stop()
        for stream in list(self.open):
            stream.close()

    def _begin_stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self._closed_at = asyncio.get_running_loop().time()

    async def _end_all(self) -> None:
        """Shutdown: first what was committed until now (bounded), then `stream.closing`."""
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
        if not self.stopping and _server_exiting():
            self._begin_stop()
            self._ending = asyncio.ensure_future(self._end_all())
        late = self._closed_at is not None and now - self._closed_at > SHUTDOWN_GRACE_SECONDS
        timeout = self.send_timeout
        for stream in list(self.open):
            stream.upkeep(now, timeout, abort=late)


def _server_exiting() -> bool:
    """uvicorn runs the app's shutdown only after every connection has ended, so a stream
    cannot wait for it: uvicorn's signal handler is a bound method of its `Server`, whose
    `should_exit` says the process is stopping (sse-starlette watches the same flag)."""
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return bool(getattr(server, "should_exit", False))


class EventStream(Subscriber, Response):
    """One `text/event-stream` response: a hub subscriber that writes to its client."""

    __slots__ = (
        "_aborted",
        "_blocked_since",
        "_ending",
        "_held",
        "_hub",
        "_listening",
        "_parked",
        "_ping",
        "_quiet_since",
        "_send",
        "_sending_since",
        "_streams",
        "_task",
        "_woken",
        "_wrote",
    )
    # (The head carries the type; None here keeps FastAPI documenting the route's JSON
    # error answers as JSON: it gives every documented response the class's media type.)
    media_type = None

    def __init__(self, hub: LiveHub, streams: EventStreams, *, ping: float) -> None:
        Subscriber.__init__(self, hub.queue_size)
        self.status_code = 200
        self.background = None
        self.raw_headers = list(_HEADERS)
        self._hub = hub
        self._streams = streams
        self._ping = ping
        self._send: Send | None = None
        self._task: asyncio.Task[Any] | None = None
        self._held: deque[bytes] = deque()  # frames behind a parked send
        self._parked: Coroutine[Any, Any, None] | None = None
        self._blocked_since: float | None = None  # when the parked send began
        self._sending_since: float | None = None  # when the coroutine's own send began
        self._wrote = False
        self._quiet_since = 0.0
        self._ending = False
        self._aborted = False
        self._listening = False
        self._woken = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._send = scope.get(RAW_SEND, send)
        self._quiet_since = asyncio.get_running_loop().time()
        streams = self._streams
        streams.open.add(self)
        try:
            if streams.stopping:
                self.close()
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._hub.follow(self, self._send_now)
            if not await self._until_end(receive):
                return  # the client went away
            while self._held:  # what the parked send held, or the last event alone
                await self._send_now(self._held.popleft())
            await send(_END)
        except asyncio.CancelledError:
            # Woken outside `receive()` to abort (a send that never completes): return
            # without ending the response, so the server closes the connection.
            if not self._woken or task.uncancel():
                raise
        finally:
            self.done = True
            streams.open.discard(self)
            self._hub.unsubscribe(self)
            self._task = None

    async def _until_end(self, receive: Receive) -> bool:
        """Wait for the end of the stream (True) or for the client to leave (False)."""
        while not self._ending:
            self._listening = True
            try:
                message = await receive()
            except asyncio.CancelledError:
                task = self._task
                if self._aborted or not self._woken or task is None:
                    raise  # an abort (handled by the caller), or not ours
                self._woken = False
                if task.uncancel():
                    raise  # somebody else cancels this request too
                return True
            finally:
                self._listening = False
            if message["type"] == "http.disconnect":
                return False
        return True

    async def _send_now(self, frame: bytes) -> None:
        """One frame from the request's coroutine (catch-up, last frames), awaited."""
        assert self._send is not None
        self._sending_since = asyncio.get_running_loop().time()
        try:
            await self._send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            self._sending_since = None
            self._wrote = True

    def _wake(self, *, abort: bool = False) -> None:
        """Interrupt the request's coroutine: in `receive()` to end the stream, or wherever
        it is to abort it."""
        if abort:
            self._aborted = True
        task = self._task
        if task is not None and not self._woken and (abort or self._listening):
            self._woken = True
            task.cancel()

    # -- Subscriber: how frames reach the client ---------------------------------------

    def _write(self, frame: bytes) -> bool:
        if self._parked is not None:
            if len(self._held) >= self.queue_size:
                return False
            self._held.append(frame)
            return True
        assert self._send is not None
        coro = self._send({"type": "http.response.body", "body": frame, "more_body": True})
        self._drive(coro)  # type: ignore[arg-type]
        return True

    def _finish(self, frame: bytes | None, *, discard: bool) -> None:
        if discard:
            self._held.clear()
        if frame is not None:
            self._held.append(frame)
        self._ending = True
        self._wake()

    def _drive(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run the server's `send` here, in the caller; one that must wait for the socket
        to drain is parked and resumed when it can go on, and so are the held frames."""
        while True:
            try:
                waiting = coro.send(None)
            except StopIteration:
                pass
            except Exception:  # the server refused the message: give the stream up
                log.exception("live stream send failed")
                self._parked = self._blocked_since = None
                self._held.clear()
                self._wake(abort=True)
                return
            else:
                self._parked = coro
                if self._blocked_since is None:
                    self._blocked_since = asyncio.get_running_loop().time()
                if waiting is None:  # a bare `yield`: go on at the next loop iteration
                    asyncio.get_running_loop().call_soon(self._drive, coro)
                else:
                    waiting._asyncio_future_blocking = False
                    waiting.add_done_callback(partial(_resume, self, coro))
                return
            self._parked = self._blocked_since = None
            self._wrote = True
            if self._ending or not self._held:
                return  # (once ending, the request's coroutine sends what is held)
            assert self._send is not None
            frame = self._held.popleft()
            coro = self._send({"type": "http.response.body", "body": frame, "more_body": True})  # type: ignore[assignment]

    # -- upkeep, from EventStreams' loop -----------------------------------------------------

    def upkeep(self, now: float, send_timeout: float, *, abort: bool) -> None:
        """A keep-alive comment when nothing was sent for `ping` seconds; the end of a
        stream whose client accepted nothing for `send_timeout` seconds (or that still has
        not ended `SHUTDOWN_GRACE_SECONDS` after the server began to stop)."""
        blocked = self._blocked_since
        if blocked is None:
            blocked = self._sending_since
        elif self._sending_since is not None:
            blocked = min(blocked, self._sending_since)
        if abort or (blocked is not None and now - blocked >= send_timeout):
            self._held.clear()
            self._wake(abort=True)
            return
        if self._wrote:
            self._wrote = False
            self._quiet_since = now
        elif (
            self.live
            and not self._ending
            and self._parked is None
            and now - self._quiet_since >= self._ping - TICK_SECONDS / 2
        ):
            self._quiet_since = now
            self._write(PING_FRAME)


def _resume(stream: EventStream, coro: Coroutine[Any, Any, None], _: object) -> None:
    stream._drive(coro)
