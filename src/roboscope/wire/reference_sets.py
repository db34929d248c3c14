"""Reference sets: named sets of reference markers in a space, versioned like markers."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .common import Name, Patch, Point, Text, Timestamp, Version, WireModel

MARKERS_MAX = 10_000


class ReferenceMarker(WireModel):
    id: UUID
    label: str | None = None
    p1: list[float]
    p2: list[float]
    p3: list[float]
    p4: list[float]
    color: str | None = None


class ReferenceMarkerInput(WireModel):
    """An embedded marker; the server gives it an id when it has none."""

    id: UUID | None = None
    label: Text | None = None
    p1: Point
    p2: Point
    p3: Point
    p4: Point
    color: Text | None = None


class ReferenceSet(WireModel):
    id: UUID
    space_id: UUID
    name: str
    description: str | None = None
    markers: list[ReferenceMarker] = Field(default_factory=list)
    version: Version
    created_at: Timestamp
    updated_at: Timestamp


class ReferenceSetCreate(WireModel):
    name: Name
    description: Text | None = None
    markers: list[ReferenceMarkerInput] = Field(default_factory=list, max_length=MARKERS_MAX)


class ReferenceSetUpdate(Patch):
    """`markers`, when present, replaces the whole list."""

    required_when_present = frozenset({"name", "markers"})

    name: Name | None = None
    description: Text | None = None
    markers: list[ReferenceMarkerInput] | None = Field(default=None, max_length=MARKERS_MAX)
