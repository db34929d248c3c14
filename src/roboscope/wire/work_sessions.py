"""Work sessions: one job in a space, the unit of presence, locks and markers."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from .common import JsonObject, Patch, Timestamp, Version, WireModel
from .limits import JsonInput


class WorkSessionStatus(StrEnum):
    draft = "draft"
    active = "active"
    done = "done"
    archived = "archived"


class SessionType(StrEnum):
    inspection = "inspection"
    repair = "repair"
    other = "other"


class WorkSession(WireModel):
    id: UUID
    space_id: UUID
    session_type: SessionType
    status: WorkSessionStatus
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    version: Version
    meta: JsonObject = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class WorkSessionCreate(WireModel):
    space_id: UUID
    session_type: SessionType
    status: WorkSessionStatus = WorkSessionStatus.draft
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    meta: JsonInput = Field(default_factory=dict)


class WorkSessionUpdate(Patch):
    """Any status transition is allowed and `space_id` may change (docs/contract.md)."""

    required_when_present = frozenset({"space_id", "session_type", "status", "meta"})

    space_id: UUID | None = None
    session_type: SessionType | None = None
    status: WorkSessionStatus | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    meta: JsonInput | None = None
