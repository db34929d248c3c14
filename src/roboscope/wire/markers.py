"""AR markers: four corner points in a work session's frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
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
    details: MarkerDetails | None = Field(
        default=None, description="The marker's details, or null until calculated."
    )
    created_at: Timestamp
    updated_at: Timestamp


class ListedMarker(NamedTuple):
    """A marker as a list reads it (`db.markers.LISTED_COLUMNS`, in this order): ids and
    timestamps already the text this model sends, its JSON columns as the text of one array
    (`p1`, `p2`, `p3`, `p4`, `meta`, `custom_props`, `calibrated_data`, the details'
    `custom_props`), whether it has details, their columns `None` when it has none."""

    id: str
    work_session_id: str
    label: str | None
    color: str | None
    version: int
    created_at: str
    updated_at: str
    json: str
    has_details: bool
    center_location_long: float | None
    center_location_cross: float | None
    x_negative: float | None
    x_positive: float | None
    z_positive: float | None
    z_negative: float | None
    long_size: float | None
    cross_size: float | None
    details_created_at: str | None
    details_updated_at: str | None


def encode_listed(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """The JSON array of `rows` (`ListedMarker`s), byte for byte what `to_json` makes of the
    validated `Marker`s (tests/api/test_marker_encoding.py holds the two together), without
    building or validating a model: every stored value was validated on its way in
    (`MarkerCreate`, `MarkerUpdate`, `MarkerDetailsPut`). The rows' JSON is parsed in one
    call; each item is a dict in the model's field order, which pydantic-core encodes as
    it encodes the model. Points and doubles stay the floats they were stored as."""
    values = pydantic_core.from_json("[" + ",".join([row[_JSON] for row in rows]) + "]")
    items = []
    for (
        (marker_id, session_id, label, color, version, created_at, updated_at, _, has_details,
         long, cross, x_negative, x_positive, z_positive, z_negative, long_size, cross_size,
         details_created_at, details_updated_at),
        (p1, p2, p3, p4, meta, custom_props, calibrated, details_custom_props),
    ) in zip(rows, values, strict=True):  # fmt: skip
        details = None
        if has_details:
            details = {
                "marker_id": marker_id,
                "center_location_long": long,
                "center_location_cross": cross,
                "x_negative": x_negative,
                "x_positive": x_positive,
                "z_positive": z_positive,
                "z_negative": z_negative,
                "long_size": long_size,
                "cross_size": cross_size,
                "custom_props": details_custom_props,
                "created_at": details_created_at,
                "updated_at": details_updated_at,
            }
        if calibrated is not None:  # in `CalibratedData`'s order, whatever the stored one
            calibrated = {name: calibrated[name] for name in _CALIBRATED}
        items.append(
            {
                "id": marker_id,
                "work_session_id": session_id,
                "label": label,
                "p1": p1,
                "p2": p2,
                "p3": p3,
                "p4": p4,
                "color": color,
                "version": version,
                "meta": meta,
                "custom_props": custom_props,
                "calibrated_data": calibrated,
                "details": details,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
    return pydantic_core.to_json(items)


_CALIBRATED = tuple(CalibratedData.model_fields)
_JSON = ListedMarker._fields.index("json")


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
