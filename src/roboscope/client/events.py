"""Live events of a work session, typed: the pure part of `client.events()`, shared by both
clients (the streaming and reconnecting is `_async/events.py` and its blocking twin)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ..wire import Anchor, Marker, MarkerDetails, WorkSession
from ..wire.locks import LockStatus
from ..wire.presence import PresenceList
from .errors import BadResponse

# What the data of each kind of event decodes to. Deletes carry the ids of what went (a
# tombstone, a plain dict); presence and lock events other than snapshots carry dicts too.
_MODELS: dict[str, type[BaseModel]] = {
    "marker.created": Marker,
    "marker.updated": Marker,
    "work_session.created": WorkSession,
    "work_session.updated": WorkSession,
    "details.created": MarkerDetails,
    "details.updated": MarkerDetails,
    "anchor.created": Anchor,
    "anchor.updated": Anchor,
    "presence.snapshot": PresenceList,
    "lock.snapshot": LockStatus,
}


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a work session's stream.

    `name` is e.g. `marker.updated`; `cursor` is set for data changes (resume after it) and
    None for presence and lock events; `data` is the entity as the REST API returns it (a
    `Marker`, `WorkSession`, …), the `PresenceList` / `LockStatus` of a snapshot, or a dict
    (deletes and presence and lock events).
    """

    name: str
    cursor: int | None
    data: Any

    @property
    def kind(self) -> str:
        """What it is about: `marker`, `work_session`, `details`, `anchor`, `presence`,
        `lock` or `stream`."""
        return self.name.partition(".")[0]

    @property
    def action(self) -> str:
        """`created`, `updated`, `deleted`, `snapshot`, `joined`, `acquired`, …"""
        return self.name.partition(".")[2]


def parse_event(name: str, event_id: str, data: str) -> Event:
    try:
        model = _MODELS.get(name)
        value: Any = model.model_validate_json(data) if model else json.loads(data)
        cursor = int(event_id) if event_id else None
    except (ValidationError, ValueError) as error:
        raise BadResponse(f"unexpected {name or 'message'} event: {error}") from error
    return Event(name, cursor, value)


@dataclass(frozen=True, slots=True)
class MarkerSnapshot:
    """A session's markers and the change log cursor they are as of (stream after it)."""

    markers: list[Marker]
    cursor: int
