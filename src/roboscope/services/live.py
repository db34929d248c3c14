"""Live streams of a work session: its data changes, presence and lock events, as they happen.

One `LiveHub` per process fans events out to every subscriber of a session in that process.
Data changes come from the change log, read once per session and wake-up however many
subscribers there are, and encoded once; wake-ups come from this process's own commits at
once and from other processes through Redis pub/sub, with a poll as the safety net (a lost
wake-up delays an event, never loses it). Presence and lock events are not in the log: a
stream starts with their current state and then gets their events from the channel.

A subscriber's queue is bounded: one that does not keep up is dropped with a last event
saying why, instead of growing the server's memory; it resumes with `Last-Event-ID`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import pydantic_core
from redis.asyncio import Redis

from .. import metrics
from ..db import changes as change_rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import NotFound
from ..realtime import LockStore, PresenceStore, feed
from ..realtime.sweeper import Sweeper
from ..wire.changes import Change, LockEvent, PresenceEvent
from . import changes, locks, presence

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 500
STOP_ROUNDS = 5
RETENTION_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event of a stream, its JSON encoded once for every subscriber; `cursor` is set for
    data changes (the stream's `id:`), not for presence and lock events."""

    name: str
    data: str
    cursor: int | None = None

    @classmethod
    def of_change(cls, change: Change) -> LiveEvent:
        return cls(change.event, pydantic_core.to_json(change.data).decode(), change.cursor)


_DROPPED = LiveEvent("stream.dropped", '{"reason":"slow_consumer"}')
_CLOSING = LiveEvent("stream.closing", '{"reason":"server_shutdown"}')
_LAST = (_DROPPED, _CLOSING)


@dataclass(slots=True, eq=False)
class Subscriber:
    queue: asyncio.Queue[LiveEvent]
    dropped: bool = False

    def close(self) -> None:
        """End the stream cleanly (server shutdown): its client reconnects elsewhere."""
        if not self.dropped:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_CLOSING)

    def offer(self, event: LiveEvent) -> None:
        """Queue `event`; a full queue means a consumer that does not keep up: its backlog
        is dropped and replaced by the one event that ends its stream."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_DROPPED)


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
        redis: Redis,
        *,
        queue_size: int = 500,
        poll_seconds: float = 2.0,
        retention: changes.Retention | None = None,
    ) -> None:
        self._db = db
        self._redis = redis
        self._queue_size = queue_size
        self._poll_seconds = poll_seconds
        self._topics: dict[UUID, _Topic] = {}
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
        """Stop every background task. A cancel that lands while redis-py is connecting can
        be swallowed by it (the task carries on to its next wait), so the tasks still running
        are asked again: shutdown never waits forever on one of them."""
        pending = set(self._tasks)
        for _ in range(STOP_ROUNDS):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1)
        if pending:
            log.warning("%d live background tasks did not stop", len(pending))
        self._tasks.clear()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- wake-ups ---------------------------------------------------------------------------

    def committed(self, session_ids: set[UUID]) -> None:
        """`Database.after_commit`: wake this process's streams now, the others via Redis."""
        self.wake(session_ids)
        message = {"changed": [str(session_id) for session_id in session_ids]}
        self._spawn(feed.publish(self._redis, message))

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
        """Read the session's new changes once and hand them to all its subscribers, in
        order; wake-ups that arrive meanwhile make it read again."""
        try:
            while True:
                topic.again = False
                page = await changes.list_changes(
                    self._db, since=topic.cursor, work_session_id=session_id
                )
                for change in page.changes:
                    self.deliver(session_id, LiveEvent.of_change(change), topic)
                topic.cursor = max(topic.cursor, page.cursor)
                if not (page.has_more or topic.again):
                    return
        except Exception as error:  # down database or expired cursor: the poll retries
            log.warning("live fetch for work session %s failed: %s", session_id, error)
        finally:
            topic.fetching = False

    def deliver(self, session_id: UUID, event: LiveEvent, topic: _Topic | None = None) -> None:
        topic = topic or self._topics.get(session_id)
        if topic is not None:
            metrics.LIVE_EVENTS.inc(len(topic.subscribers))
            for subscriber in topic.subscribers:
                subscriber.offer(event)

    # -- subscriptions ----------------------------------------------------------------------

    async def _subscribe(self, session_id: UUID) -> Subscriber:
        if session_id not in self._topics:
            async with self._db.read() as conn:
                cursor = await changes.current_cursor(conn)
            self._topics.setdefault(session_id, _Topic(cursor))
        subscriber = Subscriber(asyncio.Queue(self._queue_size))
        self._topics[session_id].subscribers.add(subscriber)
        metrics.LIVE_STREAMS.inc()
        return subscriber

    def _unsubscribe(self, session_id: UUID, subscriber: Subscriber) -> None:
        topic = self._topics.get(session_id)
        if topic is None:
            return
        metrics.LIVE_STREAMS.dec()
        topic.subscribers.discard(subscriber)
        if not topic.subscribers:
            del self._topics[session_id]

    async def open(
        self,
        session_id: UUID,
        *,
        since: int | None,
        snapshots: Callable[[], Awaitable[list[LiveEvent]]],
        closing: Closing | None = None,
    ) -> AsyncIterator[LiveEvent]:
        """A session's stream: checked (404, 410) and subscribed before it is returned, so
        errors are answers rather than broken streams, and nothing committed from now on
        can slip between the catch-up and the live events."""
        async with self._db.snapshot() as conn:
            if await session_rows.get_work_session(conn, session_id) is None:
                raise NotFound(f"work session {session_id} does not exist")
            if since is not None:
                await changes.require_retained(conn, since)
            now = await changes.current_cursor(conn)
        subscriber = await self._subscribe(session_id)
        try:
            first = await snapshots()
        except BaseException:
            self._unsubscribe(session_id, subscriber)
            raise
        return self._stream(session_id, subscriber, first, now if since is None else since, closing)

    async def _stream(
        self,
        session_id: UUID,
        subscriber: Subscriber,
        first: list[LiveEvent],
        since: int,
        closing: Closing | None,
    ) -> AsyncIterator[LiveEvent]:
        on_close = (
            None if closing is None else asyncio.ensure_future(_close_on(closing, subscriber))
        )
        try:
            for event in first:
                yield event
            last = since
            while True:  # catch up from the log: every change after `since`, in order
                page = await changes.list_changes(
                    self._db, since=last, limit=CATCH_UP_PAGE, work_session_id=session_id
                )
                for change in page.changes:
                    yield LiveEvent.of_change(change)
                    if change.event == "work_session.deleted":
                        return
                last = page.cursor
                if not page.has_more:
                    break
            while True:  # then live: the hub's events, without what the catch-up sent
                event = await subscriber.queue.get()
                if event.cursor is not None and event.cursor <= last:
                    continue
                yield event
                if event in _LAST or event.name == "work_session.deleted":
                    return
                if event.cursor is not None:
                    last = event.cursor
        finally:
            if on_close is not None:
                on_close.cancel()
            self._unsubscribe(session_id, subscriber)


class Closing(Protocol):
    """What says the server is stopping (the HTTP edge's shutdown event)."""

    async def wait(self) -> object: ...


async def _close_on(closing: Closing, subscriber: Subscriber) -> None:
    await closing.wait()
    subscriber.close()


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
