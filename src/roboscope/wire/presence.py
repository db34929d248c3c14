"""Presence: who is in a work session now (the iOS guide's heartbeat, list and leave)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from .common import JsonObject, Timestamp, WireModel, storable_text
from .limits import JsonInput

OpaqueId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(storable_text)]
"""Client-chosen ids (`user_id`, `device_id`): stored and echoed verbatim, never parsed."""


class PresenceHeartbeat(WireModel):
    user_id: OpaqueId
    device_id: OpaqueId | None = None
    display_name: Annotated[str, Field(max_length=200), AfterValidator(storable_text)] | None = None
    meta: JsonInput | None = Field(
        default=None,
        description="At most ROBOSCOPE_MAX_META_BYTES of compact JSON (default 64 KiB).",
    )


class PresenceMember(WireModel):
    user_id: str
    devices: list[str]
    last_seen: Timestamp
    expires_at: Timestamp
    display_name: str | None = None
    meta: JsonObject = Field(default_factory=dict)


class PresenceBeat(WireModel):
    """A heartbeat's answer: until when this device counts as present, and how many are."""

    user_id: str
    device_id: str
    expires_at: Timestamp
    user_count: int
    device_count: int


class PresenceList(WireModel):
    """`users` is what the iOS guide's client decodes; the rest is for richer clients."""

    users: list[str]
    members: list[PresenceMember]
    user_count: int
    device_count: int
