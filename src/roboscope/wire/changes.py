"""The change log on the wire: catch-up pages, the audit trail, and live stream events."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, JsonValue

from .common import Timestamp, WireModel

CURSOR_HEADER = "X-Roboscope-Cursor"
"""On the snapshot reads a client loads first: the change log cursor their body is as of."""


class Change(WireModel):
    """One create, update or delete, as recorded in the same transaction as the write."""

    cursor: int = Field(description="Position in the change log; ask for changes after it.")
    op: Literal["created", "updated", "deleted"]
    entity: Literal[
        "space", "work_session", "marker", "details", "anchor", "laser_guide", "reference_set"
    ]
    entity_id: UUID
    work_session_id: UUID | None = None
    space_id: UUID | None = None
    version: int | None = Field(default=None, description="The new version, if versioned.")
    data: dict[str, JsonValue] = Field(
        description="The entity exactly as the REST API answers it; for a delete, the last "
        "state it had."
    )
    actor: str | None = Field(default=None, description="Who made the change, when known.")
    created_at: Timestamp

    @property
    def event(self) -> str:
        """The live stream's event name, e.g. `marker.updated`."""
        return f"{self.entity}.{self.op}"


class PresenceEvent(WireModel):
    """`presence.joined` / `presence.updated` (a new profile: not a leave and a join) /
    `presence.left` of one device of a user."""

    user_id: str
    device_id: str
    display_name: str | None = None
    meta: dict[str, JsonValue] | None = None
    expires_at: Timestamp | None = Field(default=None, description="Until when it counts.")
    reason: Literal["left", "expired"] | None = Field(
        default=None, description="Why it left (`presence.left` only)."
    )


class LockEvent(WireModel):
    """`lock.acquired|extended|released|expired`: the grant, never its token."""

    owner: str | None = None
    fence: int
    expires_at: Timestamp | None = Field(
        default=None, description="Until when it is held (acquired and extended only)."
    )
    reason: Literal["forced"] | None = Field(
        default=None,
        description="`forced` on a `lock.released` that an admin forced (docs/auth.md).",
    )


class ChangePage(WireModel):
    """Changes after the asked cursor, oldest first, and the cursor to ask from next."""

    changes: list[Change]
    cursor: int = Field(description="Pass as `since` for the next page or the next catch-up.")
    has_more: bool = Field(description="More changes match after `cursor`: ask again now.")
