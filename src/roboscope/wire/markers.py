"""AR markers: four corner points in a work session's frame."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

import pydantic_core
from pydantic import Field

from .common import JsonObject, Patch, Point, Text, Timestamp, Version, WireModel
from .limits import JsonInput
from .marker_details import MarkerDetails

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
    created_at: Timestamp
    updated_at: Timestamp
    # Last: lists splice it into each marker's stored text (`listed_head`).
    details: MarkerDetails | None = Field(
        default=None, description="The marker's details, or null until calculated."
    )


def listed_head(marker: Marker) -> str:
    """The marker's JSON up to its details, open: `{"id":…,"updated_at":…,"details":`.

    Stored with the marker at every write (`markers.listed`), it lets a list send each
    marker as stored text instead of reading, converting and encoding its columns: the list
    closes it with the details' `listed_details` (or `null`) and `}`, as `listed_marker`
    does (db.markers.listed_markers does the same in SQL). `details` is `Marker`'s last
    field for this."""
    return pydantic_core.to_json(marker, exclude=_DETAILS).decode()[:-1] + ',"details":'


def listed_details(details: MarkerDetails) -> str:
    """The details' JSON, stored with them at every write (`marker_details.listed`)."""
    return pydantic_core.to_json(details).decode()


def listed_marker(marker: Marker) -> str:
    """The marker as a list sends it: `to_json(marker)`, in the stored pieces' form."""
    details = "null" if marker.details is None else listed_details(marker.details)
    return f"{listed_head(marker)}{details}}}"


def listed_shape() -> str:
    """A fingerprint of what `listed_head` and `listed_details` make: the two models' JSON
    schemas. When it changes, the stored pieces are stale (`LISTED_SHAPE`)."""
    schemas = [model.model_json_schema(mode="serialization") for model in (Marker, MarkerDetails)]
    return hashlib.sha256(json.dumps(schemas).encode()).hexdigest()[:16]


LISTED_SHAPE = "5ad10c348c571ecf"
"""`listed_shape()` of the stored pieces' models (tests/api/test_marker_encoding.py checks).
A change to `Marker` or `MarkerDetails` changes it: the same release then needs a migration
that sets `markers.listed_version` and `marker_details.listed_at` to NULL (lists render such
rows from their columns, and each server start stores them again:
services/listed_markers.py), and this value follows."""

_DETAILS = {"details"}


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
