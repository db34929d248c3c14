"""`LiveHub`: one per process, it fans a session's events out to its subscribers here.

Data changes come from the change log, read once per session and wake-up however many
subscribers there are, and encoded once; wake-ups come from this process's own commits at
once and from other processes through Redis pub/sub, with a poll as the safety net (a lost
wake-up delays an event, never loses it). Presence and lock events are not in the log: a
stream starts with their current state and then gets their events from the channel.

The hub's own tasks (the wake-up listener, the poll, each read of the log) run while it is
entered as an async context manager (the app's state does that); nothing else runs here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from uuid import UUID

from ... import metrics
from ...background import Background
from ...db import changes as change_rows
from ...db.engine import Database
from ...realtime import feed
from ...realtime.connection import RedisClient
from .. import changes
from .events import DELETED, LiveEvent, announcement
from .subscriber import Subscriber

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 500


@dataclass(slots=True, eq=False)
class _Topic:
    """The subscribers of one session in this process, and how far its log was read.

    From `read_from` on, every change of the session up to `cursor` went to the subscribers
    the topic had when it was read; `newest_change` is the last of them (0: none yet), and
    `deleted` says one was the session's deletion. So a stream that starts at a cursor in
    [max(read_from, newest_change), cursor] has nothing to catch up on: the hub hands it
    every later change (one that starts past `cursor` gets them from the hub too)."""

    cursor: int
    read_from: int = -1
    newest_change: int = 0
    deleted: bool = False
    subscribers: set[Subscriber] = field(default_factory=set)
    fetching: bool = False
    again: bool = False

    def __post_init__(self) -> None:
        if self.read_from < 0:
            self.read_from = self.cursor

    def current_from(self, cursor: int) -> bool:
        """Whether a stream from `cursor` needs no catch-up from the log."""
        return max(self.read_from, self.newest_change) <= cursor


class LiveHub:
    def __init__(
        self,
        db: Database,
        redis: RedisClient,
        *,
        queue_size: int = 500,
        poll_seconds: float = 2.0,
    ) -> None:
        self._db = db
        self._redis = redis
        self.queue_size = queue_size
        self._poll_seconds = poll_seconds
        self._topics: dict[UUID, _Topic] = {}
        self._by_token: dict[UUID, set[Subscriber]] = {}
        self._tasks = Background("live hub")

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> LiveHub:
        self._tasks.spawn(feed.listen(self._redis, self._on_message, self.poll_soon))
        self._tasks.spawn(self._poll_forever())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._tasks.aclose()

    # -- wake-ups ---------------------------------------------------------------------------

    def committed(self, session_ids: set[UUID]) -> None:
        """`db.engine.CommitListener`: the sessions a commit changed; wake this process's
        streams now, the others via Redis."""
        self.wake(session_ids)
        self._tasks.spawn(feed.wake(self._redis, session_ids))

    def wake(self, session_ids: Iterable[UUID]) -> None:
        for session_id in session_ids:
            topic = self._topics.get(session_id)
            if topic is None:
                continue
            if topic.fetching:
                topic.again = True
            else:
                topic.fetching = True
                self._tasks.spawn(self._fetch(session_id, topic))

    def poll_soon(self) -> None:
        self._tasks.spawn(self._poll_once())

    def _on_message(self, payload: dict[str, Any]) -> None:
        try:
            if "changed" in payload:
                self.wake(UUID(text) for text in payload["changed"])
            elif (announced := feed.notice(payload)) and announced.session_id in self._topics:
                # built only for sessions streamed here: every process gets every message
                self.deliver(announced.session_id, announcement(announced))
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed live message: %r", payload)

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
            event = LiveEvent.of_change(change)
            topic.newest_change = max(topic.newest_change, change.cursor)
            topic.deleted = topic.deleted or event.name == DELETED
            self.deliver(session_id, event, topic)
        topic.cursor = max(topic.cursor, page.cursor)
        return page.has_more

    def deliver(self, session_id: UUID, event: LiveEvent, topic: _Topic | None = None) -> None:
        topic = topic or self._topics.get(session_id)
        if topic is not None:
            # Each offer writes to its client at once (`Sink.write`): the hub's loop is the
            # whole fan-out, no task per subscriber wakes up.
            metrics.LIVE_EVENTS.inc(len(topic.subscribers))
            for subscriber in topic.subscribers:
                subscriber.offer(event)

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

    # -- subscriptions ----------------------------------------------------------------------

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
        topic = self._topics.get(session_id)
        start = since if topic is None or since is not None else topic.cursor
        if (
            topic is not None
            and not topic.deleted
            and start is not None
            and start <= topic.cursor  # (past it: maybe past the log's end, a 410)
            and topic.current_from(start)
        ):
            # Other streams of the session here: the hub's own reads show it exists (its
            # deletion would be in them) and that the stream has nothing to catch up on.
            # No statement: a storm of openings of one session costs the database nothing.
            subscriber.last = start
        else:
            subscriber.last = await changes.stream_start(self._db, session_id, since)
        subscriber.token_id = token_id
        await self._subscribe(session_id, subscriber)
        try:
            subscriber.first = await snapshots()
        except BaseException:
            self.unsubscribe(subscriber)
            raise

    async def follow(
        self, subscriber: Subscriber, send: Callable[[LiveEvent], Awaitable[None]]
    ) -> None:
        """Send an opened stream its snapshots and the log after its cursor, each `send`
        awaited (a slow reader slows its own catch-up, nobody else's), then switch it to
        live events, which the hub hands it as they come (`Subscriber.offer`)."""
        session_id = subscriber.session_id
        first, subscriber.first = subscriber.first, ()
        for event in first:
            if subscriber.done:
                return
            await send(event)
        # Catch up from the log: every change after `last` that the hub read before the
        # stream subscribed (the hub hands it every later one). None in the usual opening,
        # which starts at the newest cursor: no statement.
        while subscriber.catch_up and not subscriber.done:
            page = await changes.list_changes(
                self._db, since=subscriber.last, limit=CATCH_UP_PAGE, work_session_id=session_id
            )
            for change in page.changes:
                if subscriber.done:
                    return
                event = LiveEvent.of_change(change)
                if subscriber.admit(event):
                    await send(event)
            subscriber.last = max(subscriber.last, page.cursor)
            if not page.has_more:
                break
        if not subscriber.done:
            subscriber.go_live()

    async def _subscribe(self, session_id: UUID, subscriber: Subscriber) -> None:
        if session_id not in self._topics:
            async with self._db.read() as conn:
                cursor = await changes.current_cursor(conn)
            self._topics.setdefault(session_id, _Topic(cursor))
        subscriber.session_id = session_id
        topic = self._topics[session_id]
        # What the hub read of the log so far, it delivered to the subscribers it had: the
        # changes up to its cursor after the stream's are for the catch-up to read.
        subscriber.catch_up = not topic.current_from(subscriber.last)
        topic.subscribers.add(subscriber)
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
