"""AR markers: four corner points in a work session's frame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import Field

from .common import JsonObject, Patch, Point, Text, Timestamp, Version, WireModel
from .limits import JsonInput
from .marker_details import MarkerDetails
from .stored import WireForm

BULK_MAX = 10_000
"""The most markers one bulk create takes (all or nothing); its body has its own size cap,
ROBOSCOPE_MAX_BULK_BODY_BYTES."""


class CalibratedData(WireModel):
    """The marker's calibrated corners and center; every point is required when present."""

    p1: Point
    p2: Point
    p3: Point
    p4: Point
    center: Point


class Marker(WireModel):
    id: UUID
    work_session_id: UUID
    label: str | None = None
    p1: list[float]
    p2: list[float]
    p3: list[float]
    p4: list[float]
    color: str | None = None
    version: Version
    meta: JsonObject = Field(default_factory=dict)
    custom_props: JsonObject = Field(default_factory=dict)
    calibrated_data: CalibratedData | None = None
    details: MarkerDetails | None = Field(
        default=None, description="The marker's details, or null until calculated."
    )
    created_at: Timestamp
    updated_at: Timestamp


def stored_marker(row: Mapping[str, Any], details: Mapping[str, Any] | None) -> dict[str, Any]:
    """A marker as read back from the database, in its wire form (wire/stored.py): to_json of
    it is byte for byte that of the validated `Marker` (tests/api/test_marker_encoding.py
    compares the two), without building that model. Every stored value was validated on
    its way in (`MarkerCreate`, `MarkerUpdate`, `MarkerDetailsPut`)."""
    return _STORED_MARKER({**row, "details": details})


_STORED_MARKER = WireForm(Marker)


class MarkerCreate(WireModel):
    work_session_id: UUID
    label: Text | None = None
    p1: Point
    p2: Point
    p3: Point
    p4: Point
    color: Text | None = None
    meta: JsonInput = Field(default_factory=dict)
    custom_props: JsonInput = Field(default_factory=dict)
    calibrated_data: CalibratedData | None = None


class MarkerBulkCreate(WireModel):
    markers: list[MarkerCreate] = Field(max_length=BULK_MAX)


class MarkerUpdate(Patch):
    required_when_present = frozenset({"p1", "p2", "p3", "p4", "meta", "custom_props"})

    label: Text | None = None
    p1: Point | None = None
    p2: Point | None = None
    p3: Point | None = None
    p4: Point | None = None
    color: Text | None = None
    meta: JsonInput | None = None
    custom_props: JsonInput | None = None
    calibrated_data: CalibratedData | None = Field(
        default=None, description="`null` clears the calibrated data."
    )

    def changes(self) -> dict[str, Any]:
        """As `Patch.changes`, with `calibrated_data` as plain JSON for storage."""
        return self.model_dump(include=self.model_fields_set - {"version"})
