"""Live streams of a work session: its data changes, presence and lock events, as they happen.

One `LiveHub` per process fans events out to every subscriber of a session in that process.
Data changes come from the change log, read once per session and wake-up however many
subscribers there are, and encoded once; wake-ups come from this process's own commits at
once and from other processes through Redis pub/sub, with a poll as the safety net (a lost
wake-up delays an event, never loses it). Presence and lock events are not in the log: a
stream starts with their current state and then gets their events from the channel.

What a subscriber may fall behind is bounded: one that does not keep up is dropped with a
last event saying why, instead of growing the server's memory; it resumes with
`Last-Event-ID`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from uuid import UUID

import pydantic_core

from .. import metrics
from ..db import changes as change_rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import NotFound
from ..realtime import LockStore, PresenceStore, feed
from ..realtime.connection import RedisClient, stop_tasks
from ..realtime.sweeper import Sweeper
from ..wire.changes import Change, LockEvent, PresenceEvent
from . import changes, locks, presence

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 500
RETENTION_SECONDS = 60.0


class LiveEvent:
    """One event of a stream, encoded once for every subscriber: its JSON and its whole SSE
    frame; `cursor` is set for data changes (the stream's `id:`), not for presence and lock
    events."""

    __slots__ = ("cursor", "data", "frame", "name")

    def __init__(self, name: str, data: str, cursor: int | None = None) -> None:
        self.name = name
        self.data = data
        self.cursor = cursor
        self.frame = sse_frame(name, data, cursor)

    def __repr__(self) -> str:
        return f"LiveEvent({self.name!r}, {self.data!r}, {self.cursor!r})"

    @classmethod
    def of_change(cls, change: Change) -> LiveEvent:
        return cls(change.event, pydantic_core.to_json(change.data).decode(), change.cursor)


def sse_frame(name: str, data: str, cursor: int | None = None) -> bytes:
    """`id:` (data changes only), `event:`, `data:` lines and the blank line that ends an SSE
    event. JSON has no raw line breaks; anything else is split over `data:` lines."""
    if "\n" in data or "\r" in data:
        data = "\ndata: ".join(data.splitlines())
    head = "" if cursor is None else f"id: {cursor}\n"
    return f"{head}event: {name}\ndata: {data}\n\n".encode()


PING_FRAME = b": ping\n\n"
_DROPPED = LiveEvent("stream.dropped", '{"reason":"slow_consumer"}')


@cache
def closing_frame(reason: str) -> bytes:
    """`stream.closing` with its reason: `server_shutdown` (resume elsewhere), or
    `token_revoked` / `token_expired` (the stream's API token no longer opens anything)."""
    return LiveEvent("stream.closing", json.dumps({"reason": reason}, separators=(",", ":"))).frame


class Subscriber:
    """One stream's place in the hub, and the rules of its order: the snapshots, then the log
    after its cursor, then live events without any the catch-up sent, ending after
    `work_session.deleted`, `stream.dropped` or `stream.closing`.

    The hub hands it events synchronously (`offer`), one call per subscriber and event, with
    no task switch; the HTTP edge (server/event_stream.py) implements how frames reach the
    client (`_write`, `_finish`). Until the catch-up is over, live events wait in a backlog of
    at most `queue_size`; after it, the edge holds what its client has not accepted yet, as
    many frames, and `_write` answers False past that: the stream is then dropped."""

    __slots__ = (
        "backlog",
        "done",
        "first",
        "last",
        "live",
        "queue_size",
        "session_id",
        "token_id",
    )

    def __init__(self, queue_size: int) -> None:
        self.session_id: UUID | None = None
        self.token_id: UUID | None = None
        """The API token the stream was opened with (None with auth off)."""
        self.first: list[LiveEvent] = []
        self.last = 0
        self.backlog: deque[LiveEvent] | None = deque()
        self.live = False
        self.done = False
        self.queue_size = queue_size

    def offer(self, event: LiveEvent) -> None:
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
        self._emit(event)

    def close(self, reason: str = "server_shutdown") -> None:
        """End the stream cleanly with `stream.closing`: at a server shutdown its client
        reconnects elsewhere; when its token stops (`token_revoked`, `token_expired`)
        nothing it has not received yet is sent."""
        if not self.done:
            self.done = True
            self.backlog = None
            self._finish(closing_frame(reason), discard=True)

    def drop(self) -> None:
        """A consumer that does not keep up: its backlog is discarded and replaced by the one
        event that ends its stream (it resumes from the log with `Last-Event-ID`)."""
        if not self.done:
            self.done = True
            self.backlog = None
            self._finish(_DROPPED.frame, discard=True)

    def go_live(self) -> None:
        """After the catch-up: what waited in the backlog, then every event as it comes."""
        self.live = True
        backlog, self.backlog = self.backlog, None
        while backlog and not self.done:
            self._emit(backlog.popleft())

    def _emit(self, event: LiveEvent) -> None:
        cursor = event.cursor
        if cursor is not None:
            if cursor <= self.last:
                return  # sent by the catch-up already
            self.last = cursor
            if event.name == "work_session.deleted":
                self.done = True
                self._finish(event.frame, discard=False)
                return
        if not self._write(event.frame):
            self.drop()

    # -- what the HTTP edge implements --------------------------------------------------

    def _write(self, frame: bytes) -> bool:
        """Send `frame` now or hold it; False when the client is too far behind to hold it."""
        raise NotImplementedError

    def _finish(self, frame: bytes | None, *, discard: bool) -> None:
        """Send `frame` (after what is held, or instead of it with `discard`), then end."""
        raise NotImplementedError


@dataclass(slots=True, eq=False)
class _Topic:
    """The subscribers of one session in this process, and how far its log was read."""

    cursor: int
    subscribers: set[Subscriber] = field(default_factory=set)
    fetching: bool = False
    again: bool = False


class LiveHub:
    def __init__(
        self,
        db: Database,
        redis: RedisClient,
        *,
        queue_size: int = 500,
        poll_seconds: float = 2.0,
        retention: changes.Retention | None = None,
    ) -> None:
        self._db = db
        self._redis = redis
        self.queue_size = queue_size
        self._poll_seconds = poll_seconds
        self._topics: dict[UUID, _Topic] = {}
        self._by_token: dict[UUID, set[Subscriber]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper = Sweeper(redis)
        self._retention = retention

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._spawn(feed.listen(self._redis, self._on_message, self.poll_soon))
        self._spawn(self._poll_forever())
        self._spawn(self._sweeper.run())
        if self._retention is not None:
            self._spawn(self._retain_forever(self._retention))

    async def stop(self) -> None:
        """Stop every background task (see `stop_tasks`)."""
        if left := await stop_tasks(self._tasks):
            log.warning("%d live background tasks did not stop", left)
        self._tasks.clear()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- wake-ups ---------------------------------------------------------------------------

    def committed(self, session_ids: set[UUID]) -> None:
        """`Database.after_commit`: wake this process's streams now, the others via Redis."""
        self.wake(session_ids)
        self._spawn(feed.wake(self._redis, session_ids))

    def wake(self, session_ids: Iterable[UUID]) -> None:
        for session_id in session_ids:
            topic = self._topics.get(session_id)
            if topic is None:
                continue
            if topic.fetching:
                topic.again = True
            else:
                topic.fetching = True
                self._spawn(self._fetch(session_id, topic))

    def poll_soon(self) -> None:
        self._spawn(self._poll_once())

    def _on_message(self, payload: dict[str, Any]) -> None:
        try:
            if "changed" in payload:
                self.wake(UUID(text) for text in payload["changed"])
            elif (announced := feed.notice(payload)) and announced.session_id in self._topics:
                # built only for sessions streamed here: every process gets every message
                self.deliver(announced.session_id, _announcement(announced))
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed live message: %r", payload)

    async def _retain_forever(self, retention: changes.Retention) -> None:
        """Trim the change log now and then; every process does, which is harmless (each
        pass removes a prefix that is gone already or goes now)."""
        while True:
            try:
                await changes.purge_expired(self._db, retention)
            except Exception as error:  # a down database: next round
                log.warning("change log retention failed: %s", error)
            await asyncio.sleep(RETENTION_SECONDS)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            await self._poll_once()

    async def _poll_once(self) -> None:
        """The safety net for lost wake-ups: one query for every session streamed here."""
        if not self._topics:
            return
        after = min(topic.cursor for topic in self._topics.values())
        try:
            async with self._db.read() as conn:
                changed = await change_rows.sessions_changed_after(conn, after)
        except Exception as error:  # the database may be down: try again next round
            log.warning("live poll failed: %s", error)
            return
        self.wake(changed)

    async def _fetch(self, session_id: UUID, topic: _Topic) -> None:
        """Read the session's new changes and hand them to all its subscribers, in order;
        wake-ups that arrive meanwhile make it read again."""
        try:
            while True:
                topic.again = False
                if not (await self._read_new(session_id, topic) or topic.again):
                    return
        except Exception as error:  # down database or expired cursor: the poll retries
            log.warning("live fetch for work session %s failed: %s", session_id, error)
        finally:
            topic.fetching = False

    async def _read_new(self, session_id: UUID, topic: _Topic) -> bool:
        """One page of the changes after the topic's cursor, delivered; True if more remain.
        Two reads at once deliver the same changes twice at most, which subscribers skip
        (they never go back in cursor order)."""
        page = await changes.list_changes(self._db, since=topic.cursor, work_session_id=session_id)
        for change in page.changes:
            self.deliver(session_id, LiveEvent.of_change(change), topic)
        topic.cursor = max(topic.cursor, page.cursor)
        return page.has_more

    def deliver(self, session_id: UUID, event: LiveEvent, topic: _Topic | None = None) -> None:
        topic = topic or self._topics.get(session_id)
        if topic is not None:
            # Each offer writes to its client at once (server/event_stream.py): the hub's loop
            # is the whole fan-out, no task per subscriber wakes up.
            metrics.LIVE_EVENTS.inc(len(topic.subscribers))
            for subscriber in topic.subscribers:
                subscriber.offer(event)

    # -- subscriptions ----------------------------------------------------------------------

    async def _subscribe(self, session_id: UUID, subscriber: Subscriber) -> None:
        if session_id not in self._topics:
            async with self._db.read() as conn:
                cursor = await changes.current_cursor(conn)
            self._topics.setdefault(session_id, _Topic(cursor))
        subscriber.session_id = session_id
        self._topics[session_id].subscribers.add(subscriber)
        if subscriber.token_id is not None:
            self._by_token.setdefault(subscriber.token_id, set()).add(subscriber)
        metrics.LIVE_STREAMS.inc()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a stream (its end, whatever the reason); harmless when done already."""
        session_id = subscriber.session_id
        topic = None if session_id is None else self._topics.get(session_id)
        if topic is None or subscriber not in topic.subscribers:
            return
        metrics.LIVE_STREAMS.dec()
        topic.subscribers.discard(subscriber)
        if not topic.subscribers:
            del self._topics[session_id]  # type: ignore[arg-type]
        token_id = subscriber.token_id
        if token_id is not None and (same := self._by_token.get(token_id)) is not None:
            same.discard(subscriber)
            if not same:
                del self._by_token[token_id]

    def streamed_tokens(self) -> list[UUID]:
        """The API tokens this process's open streams were opened with."""
        return list(self._by_token)

    def end_streams_of(self, token_id: UUID, reason: str) -> int:
        """End every stream of this process opened with `token_id` (each gets
        `stream.closing` with `reason`); how many there were."""
        ending = list(self._by_token.get(token_id, ()))
        for subscriber in ending:
            subscriber.close(reason)
        return len(ending)

    async def open(
        self,
        session_id: UUID,
        subscriber: Subscriber,
        *,
        since: int | None,
        snapshots: Callable[[], Awaitable[list[LiveEvent]]],
        token_id: UUID | None = None,
    ) -> None:
        """Check a session's stream (404, 410) and subscribe it before any byte is sent, so
        errors are answers rather than broken streams, and nothing committed from now on
        can slip between the catch-up and the live events. `follow` then sends it.
        `token_id` is the API token it is opened with: revoking it ends the stream."""
        async with self._db.snapshot() as conn:
            if await session_rows.get_work_session(conn, session_id) is None:
                raise NotFound(f"work session {session_id} does not exist")
            if since is not None:
                await changes.require_known_cursor(conn, since)
            now = await changes.current_cursor(conn)
        subscriber.last = now if since is None else since
        subscriber.token_id = token_id
        await self._subscribe(session_id, subscriber)
        try:
            subscriber.first = await snapshots()
        except BaseException:
            self.unsubscribe(subscriber)
            raise

    async def follow(
        self, subscriber: Subscriber, send: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """Send an opened stream its snapshots and the log after its cursor, each write
        awaited (a slow reader slows its own catch-up, nobody else's), then switch it to
        live events, which the hub hands it as they come (`Subscriber.offer`)."""
        session_id = subscriber.session_id
        first, subscriber.first = subscriber.first, []
        for event in first:
            if subscriber.done:
                return
            await send(event.frame)
        while not subscriber.done:  # catch up from the log: every change after `last`
            page = await changes.list_changes(
                self._db, since=subscriber.last, limit=CATCH_UP_PAGE, work_session_id=session_id
            )
            for change in page.changes:
                if subscriber.done:
                    return
                event = LiveEvent.of_change(change)
                subscriber.last = change.cursor
                if event.name == "work_session.deleted":
                    subscriber.done = True
                    subscriber.backlog = None
                    subscriber._finish(event.frame, discard=True)
                    return
                await send(event.frame)
            subscriber.last = max(subscriber.last, page.cursor)
            if not page.has_more:
                break
        if not subscriber.done:
            subscriber.go_live()

    async def catch_up(self) -> None:
        """Deliver every change committed so far to this process's streams: at shutdown,
        before `stream.closing`, so a stream ends with everything committed until then
        (a wake-up still on its way would otherwise be lost with the process)."""

        async def read_all(session_id: UUID, topic: _Topic) -> None:
            while await self._read_new(session_id, topic):
                pass

        await asyncio.gather(
            *(read_all(session_id, topic) for session_id, topic in list(self._topics.items())),
            return_exceptions=True,  # a down database: the clients resume from their ids
        )


def _announcement(announced: feed.LiveNotice) -> LiveEvent:
    """A presence or lock event as the stream sends it (one JSON encoding for everyone)."""
    model = PresenceEvent if announced.name.startswith("presence.") else LockEvent
    body = model.model_validate(announced.fields)
    return LiveEvent(announced.name, pydantic_core.to_json(body, exclude_none=True).decode())


async def snapshots(
    presence_store: PresenceStore, lock_store: LockStore, session_id: UUID
) -> list[LiveEvent]:
    """What a stream starts with: who is present and who holds the lock, as the REST API
    answers them (the lock's token is never part of it)."""
    present = await presence.present(presence_store, session_id)
    lock = await locks.status(lock_store, session_id)
    return [
        LiveEvent("presence.snapshot", pydantic_core.to_json(present).decode()),
        LiveEvent("lock.snapshot", pydantic_core.to_json(lock).decode()),
    ]
