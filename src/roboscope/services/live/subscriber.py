"""One stream's place in the hub, and the rules of its order; `Sink`, how its events leave.

The hub knows a stream only as a `Subscriber`, and a subscriber knows its client only as a
`Sink`: two calls, `write` and `finish`, that the HTTP edge implements (server/event_stream.py).
So the order rules below are written once, whatever carries the events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from .events import DELETED, DROPPED, LiveEvent, closing


class Sink(Protocol):
    """Where a subscriber's live events go. Both calls come from the hub's fan-out loop, one
    per subscriber and event: they must not wait (no task switch)."""

    def write(self, event: LiveEvent) -> bool:
        """Send `event` now or hold it; False when the client is too far behind to hold it
        (the stream is then dropped)."""
        ...

    def finish(self, last: LiveEvent, *, discard: bool) -> None:
        """Send `last` (after what is held, or instead of it with `discard`), then end."""
        ...


class Subscriber:
    """The snapshots, then the log after its cursor, then live events without any the
    catch-up sent, ending after `work_session.deleted`, `stream.dropped` or `stream.closing`.

    The hub hands it events synchronously (`offer`). Until the catch-up is over, live events
    wait in a backlog of at most `queue_size`; after it, they go to the sink, which holds at
    most as many that its client has not accepted yet."""

    __slots__ = (
        "backlog",
        "catch_up",
        "done",
        "first",
        "last",
        "live",
        "queue_size",
        "session_id",
        "sink",
        "token_id",
    )

    def __init__(self, sink: Sink, queue_size: int) -> None:
        self.sink = sink
        self.session_id: UUID | None = None
        self.token_id: UUID | None = None
        """The API token the stream was opened with (None with auth off)."""
        self.first: Sequence[LiveEvent] = ()
        """The snapshots, from `LiveHub.open` until `LiveHub.follow` sends them."""
        self.last = 0
        """The cursor of the last data change sent (or the one the stream starts after)."""
        self.catch_up = True
        """Whether the log after `last` holds changes the hub will not hand it (read before
        it subscribed): set by `LiveHub` when it subscribes."""
        self.backlog: deque[LiveEvent] | None = deque()
        self.live = False
        self.done = False
        self.queue_size = queue_size

    def offer(self, event: LiveEvent) -> None:
        """A live event, from the hub."""
        if self.done:
            return
        if not self.live:
            backlog = self.backlog
            assert backlog is not None
            if len(backlog) >= self.queue_size:
                self.drop()
            else:
                backlog.append(event)
            return
        if self.admit(event) and not self.sink.write(event):
            self.drop()

    def admit(self, event: LiveEvent) -> bool:
        """Whether `event` is the stream's next, for the catch-up and live events alike:
        not a data change sent already (the two overlap), and not the session's deletion,
        which ends the stream instead, as its last event."""
        cursor = event.cursor
        if cursor is None:
            return True
        if cursor <= self.last:
            return False
        self.last = cursor
        if event.name == DELETED:
            self._end(event, discard=False)
            return False
        return True

    def go_live(self) -> None:
        """After the catch-up: what waited in the backlog, then every event as it comes."""
        self.live = True
        backlog, self.backlog = self.backlog, None
        while backlog and not self.done:
            event = backlog.popleft()
            if self.admit(event) and not self.sink.write(event):
                self.drop()

    def close(self, reason: str = "server_shutdown") -> None:
        """End the stream cleanly with `stream.closing`: at a server shutdown its client
        reconnects elsewhere; when its token stops (`token_revoked`, `token_expired`)
        nothing it has not received yet is sent."""
        self._end(closing(reason), discard=True)

    def drop(self) -> None:
        """A consumer that does not keep up: what waits for it is discarded and replaced by
        the one event that ends its stream (it resumes from the log with `Last-Event-ID`)."""
        self._end(DROPPED, discard=True)

    def leave(self) -> None:
        """The client is gone (or given up on): nothing more is sent."""
        self.done = True
        self.backlog = None

    def _end(self, last: LiveEvent, *, discard: bool) -> None:
        if not self.done:
            self.leave()
            self.sink.finish(last, discard=discard)
