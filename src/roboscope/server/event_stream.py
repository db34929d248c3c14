"""The live stream's HTTP response: lean enough for thousands of idle streams per process.

An `EventStream` is the ASGI response of one stream. It holds the hub's `Subscriber` for it
and is that subscriber's `Sink` (services/live): the hub calls `write` and `finish`, the
response turns events into SSE frames (server/sse.py) and gets them to its client.

- An event costs each stream one call, not a task switch: the hub writes each event's frame,
  made once for all, to every stream from its own loop: straight to the socket when uvicorn
  would write it at once (server/direct_chunks.py), else to the stream's `send`, the
  coroutine stepped in place (server/inline_send.py). The server's `send` returns at once
  unless the client's socket is full; then that one send is parked until the socket drains,
  and later frames wait behind it, at most `ROBOSCOPE_LIVE_QUEUE_SIZE` of them: past that the
  stream is dropped with `stream.dropped`.
- The request's coroutine sends the catch-up, then waits for the stream to end (`finish`),
  or for its client to leave, which a small task waiting in `receive()` hears at once. When
  the response ends, however it ends, it gives the stream's place under the caps back.
- A stream is given up (its connection closed without the end of the response) when its
  client accepts nothing for `ROBOSCOPE_LIVE_SEND_TIMEOUT_SECONDS`, or is still there
  `SHUTDOWN_GRACE_SECONDS` after the server began to stop (`abort`, from the per-process
  upkeep: server/stream_upkeep.py). While the request's coroutine sends or reads, it does so
  under an `asyncio.timeout` that `abort` brings forward to now; while it waits for the end,
  `abort` ends that wait.

Frames after the response head go to the `send` that the edge received (`raw_send.beneath`:
server/raw_send.py, the one channel of its kind, says why and its rules), past the wrappers
that only look at the head; the head and the end of the response take the ordinary path
through every middleware. A plain opening is run by the edge itself (server/hot_stream.py):
then no FastAPI layer lies between the edge and this response for the stream's whole life.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..services.live import LiveEvent, LiveHub, Subscriber
from ..services.stream_caps import StreamSlot
from . import raw_send, sse
from .direct_chunks import DirectChunks, direct_chunks
from .inline_send import InlineSend

if TYPE_CHECKING:
    from .stream_upkeep import EventStreams

log = logging.getLogger(__name__)

_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


class EventStream(Response):
    """One `text/event-stream` response, and the sink of its hub subscriber."""

    __slots__ = (
        "_aborted",
        "_blocked_since",
        "_deadline",
        "_direct",
        "_ended",
        "_ending",
        "_gone",
        "_held",
        "_hub",
        "_parked",
        "_ping",
        "_quiet_since",
        "_send",
        "_sending_since",
        "_slot",
        "_streams",
        "_wrote",
        "background",
        "status_code",
        "subscriber",
    )
    # (The head carries the type; None here keeps FastAPI documenting the route's JSON
    # error answers as JSON: it gives every documented response the class's media type.)
    media_type = None

    def __init__(
        self, hub: LiveHub, streams: EventStreams, slot: StreamSlot, *, ping: float
    ) -> None:
        """`slot`: the stream's place under the caps, given back when the response ends."""
        self.status_code = 200
        self.background = None
        self.subscriber = Subscriber(self, hub.queue_size)
        self._hub = hub
        self._streams = streams
        self._slot = slot
        self._ping = ping
        self._send: Send | None = None
        self._direct: DirectChunks | None = None  # set once the head is sent, if it can be
        # Frames behind a parked send, or the last ones; made only when needed (an empty
        # deque is 0.7 KB, a fair share of what an idle stream costs).
        self._held: deque[bytes] | None = None
        self._parked: InlineSend | None = None
        self._blocked_since: float | None = None  # when the parked send began
        self._sending_since: float | None = None  # when the coroutine's own send began
        self._wrote = False
        self._quiet_since = 0.0
        self._ended: asyncio.Future[None] | None = None  # wakes the request's coroutine
        self._ending = False  # `finish` was called: end the response after what is held
        self._gone = False  # the client went away
        self._aborted = False  # given up on: close the connection
        self._deadline: asyncio.Timeout | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        self._send = raw_send.beneath(scope, send)  # for the frames after the head
        self._quiet_since = loop.time()
        self._ended = loop.create_future()
        streams, subscriber = self._streams, self.subscriber
        listener = loop.create_task(_until_disconnect(receive))
        listener.add_done_callback(self._client_left)
        try:
            # (A deadline only while the coroutine sends or reads: an idle stream waits on
            # `_ended`, which `abort` resolves, and keeps no timeout object.)
            async with asyncio.timeout(None) as self._deadline:
                streams.open.add(self)
                if streams.stopping:
                    subscriber.close()
                head = {"type": "http.response.start", "status": 200, "headers": list(sse.HEADERS)}
                await send(head)
                self._direct = direct_chunks(self._send)
                await self._hub.follow(subscriber, self._send_event)
            self._deadline = None
            if not self._settled:
                await self._ended
            if self._gone or self._aborted:
                return
            async with asyncio.timeout(None) as self._deadline:
                held = self._held  # what the parked send left, or the last event alone
                while held:
                    await self._send_frame(held.popleft())
                await send(_END)
        except TimeoutError:
            if not self._aborted:
                raise
            # Given up on: return without ending the response, so the server closes the
            # connection.
        finally:
            self._deadline = None
            listener.cancel()
            subscriber.leave()
            self._drop_pending()
            streams.open.discard(self)
            self._hub.unsubscribe(subscriber)
            self._slot.release()

    @property
    def _settled(self) -> bool:
        """Whether the request's coroutine may go on: the client left, or the stream ends
        and no send of the hub's is parked any more (the coroutine sends the rest)."""
        return self._gone or self._aborted or (self._ending and self._parked is None)

    def _wake(self) -> None:
        ended = self._ended
        if ended is not None and not ended.done() and self._settled:
            ended.set_result(None)

    def _client_left(self, listener: asyncio.Task[None]) -> None:
        if listener.cancelled():
            return  # the response ended first
        listener.exception()  # (a failed `receive` means the client is gone too)
        self._gone = True
        self.subscriber.leave()
        self._drop_pending()
        self._wake()

    async def _send_event(self, event: LiveEvent) -> None:
        """The catch-up's sends, from the request's coroutine."""
        await self._send_frame(sse.frame(event))

    async def _send_frame(self, frame: bytes) -> None:
        assert self._send is not None
        self._sending_since = asyncio.get_running_loop().time()
        try:
            await self._send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            self._sending_since = None
            self._wrote = True

    # -- Sink: the hub's calls ----------------------------------------------------------------

    def write(self, event: LiveEvent) -> bool:
        encoded = event.encoded
        return self._write(sse.frame(event) if encoded is None else encoded)

    def finish(self, last: LiveEvent, *, discard: bool) -> None:
        held = self._held
        if held is None or discard:
            held = self._held = deque()
        held.append(sse.frame(last))
        self._ending = True
        self._wake()

    # -- frames written from the hub's loop (and the upkeep's pings) ------------------------

    def _write(self, frame: bytes) -> bool:
        """Send `frame` now or hold it behind a parked send; False when too much is held."""
        if self._parked is not None:
            held = self._held
            if held is None:
                held = self._held = deque()
            elif len(held) >= self.subscriber.queue_size:
                return False
            held.append(frame)
            return True
        self._start(frame)
        return True

    def _start(self, frame: bytes) -> None:
        """Send `frame` in the caller: straight to the socket when uvicorn would write it at
        once (server/direct_chunks.py), else by the ASGI send, parked when the socket is full."""
        direct = self._direct
        if direct is not None and direct.write(frame):
            self._wrote = True
            return
        assert self._send is not None
        message = {"type": "http.response.body", "body": frame, "more_body": True}
        try:
            parked = InlineSend.run(self._send(message), self._sent)  # type: ignore[arg-type]
        except Exception:  # the server refused the message: give the stream up
            log.exception("live stream send failed")
            self.abort()
            return
        if parked is None:
            self._wrote = True
        else:
            self._parked = parked
            if self._blocked_since is None:
                self._blocked_since = asyncio.get_running_loop().time()

    def _sent(self, error: BaseException | None) -> None:
        """A parked send is done: the next held frame goes, unless the stream ends (then the
        request's coroutine sends what is held)."""
        self._parked = self._blocked_since = None
        if error is not None:
            log.error("live stream send failed", exc_info=error)
            self.abort()
            return
        self._wrote = True
        if self._ending:
            self._wake()
            return
        held = self._held
        while held and self._parked is None and not self._aborted:
            self._start(held.popleft())
        if not held and self._held is held:
            self._held = None  # (an idle stream keeps no deque)

    def _drop_pending(self) -> None:
        held, self._held = self._held, None
        if held:
            held.clear()  # (the request's coroutine may be sending from it)
        parked, self._parked = self._parked, None
        if parked is not None:
            parked.close()

    # -- upkeep, from EventStreams' loop ------------------------------------------------------

    def abort(self) -> None:
        """Give the stream up: nothing more is sent, and its connection is closed without
        the end of the response (the request's coroutine stops wherever it waits)."""
        if self._aborted:
            return
        self._aborted = True
        self.subscriber.leave()
        self._drop_pending()
        deadline = self._deadline
        if deadline is not None:
            deadline.reschedule(asyncio.get_running_loop().time())
        self._wake()

    def upkeep(self, now: float, send_timeout: float, ping_slack: float) -> None:
        """A keep-alive comment when nothing was sent for `ping` seconds (less the slack of
        the upkeep's tick); the end of a stream whose client accepted nothing for
        `send_timeout` seconds."""
        blocked = self._blocked_since
        if blocked is None:
            blocked = self._sending_since
        elif self._sending_since is not None:
            blocked = min(blocked, self._sending_since)
        if blocked is not None and now - blocked >= send_timeout:
            self.abort()
            return
        if self._wrote:
            self._wrote = False
            self._quiet_since = now
        elif (
            self.subscriber.live
            and not self.subscriber.done
            and self._parked is None
            and now - self._quiet_since >= self._ping - ping_slack
        ):
            self._quiet_since = now
            self._write(sse.PING)


async def _until_disconnect(receive: Receive) -> None:
    """Returns when the client has gone away (or the response is over)."""
    while (await receive())["type"] != "http.disconnect":
        pass
