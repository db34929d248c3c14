"""The events of a live stream, each encoded to JSON once for every subscriber.

An event is a name, its JSON and, for data changes, the change log cursor. How it goes on the
wire (Server-Sent Events) is the HTTP edge's business (server/sse.py); the edge keeps its
encoding on the event (`encoded`) so that it too is made once, not once per subscriber.
"""

from __future__ import annotations

import json
from functools import cache
from uuid import UUID

import pydantic_core

from ...realtime import PresenceStore, feed
from ...wire.changes import Change, LockEvent, PresenceEvent
from .. import locks, presence

DELETED = "work_session.deleted"
"""The data change after which a session's stream ends (there is nothing left to follow)."""


class LiveEvent:
    """One event of a stream: `cursor` is set for data changes (the stream's `id:`), not for
    presence, lock and stream events."""

    __slots__ = ("cursor", "data", "encoded", "name")

    def __init__(self, name: str, data: str, cursor: int | None = None) -> None:
        self.name = name
        self.data = data
        self.cursor = cursor
        self.encoded: bytes | None = None
        """The edge's wire form of the event, made by the first subscriber that sends it."""

    def __repr__(self) -> str:
        return f"LiveEvent({self.name!r}, {self.data!r}, {self.cursor!r})"

    @classmethod
    def of_change(cls, change: Change) -> LiveEvent:
        return cls(change.event, pydantic_core.to_json(change.data).decode(), change.cursor)


DROPPED = LiveEvent("stream.dropped", '{"reason":"slow_consumer"}')
"""The last event of a stream that fell too far behind (it resumes with `Last-Event-ID`)."""


@cache
def closing(reason: str) -> LiveEvent:
    """`stream.closing` with its reason: `server_shutdown` (resume elsewhere), or
    `token_revoked` / `token_expired` (the stream's API token no longer opens anything)."""
    return LiveEvent("stream.closing", json.dumps({"reason": reason}, separators=(",", ":")))


def announcement(announced: feed.LiveNotice) -> LiveEvent:
    """A presence or lock event as the stream sends it (one JSON encoding for everyone)."""
    model = PresenceEvent if announced.name.startswith("presence.") else LockEvent
    body = model.model_validate(announced.fields)
    return LiveEvent(announced.name, pydantic_core.to_json(body, exclude_none=True).decode())


async def snapshots(presence_store: PresenceStore, session_id: UUID) -> list[LiveEvent]:
    """What a stream starts with: who is present and who holds the lock, as the REST API
    answers them (the lock's token is never part of it), read in one round trip."""
    people, held = await presence_store.with_lock(session_id)
    present = presence.present_of(people)
    lock = locks.status_of(held)
    return [
        LiveEvent("presence.snapshot", pydantic_core.to_json(present).decode()),
        LiveEvent("lock.snapshot", pydantic_core.to_json(lock).decode()),
    ]
