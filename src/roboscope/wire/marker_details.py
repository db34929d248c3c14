"""Marker details: a marker's footprint in its session's frame, derived from p1 to p4.

Every field is required by the app; `custom_props` is `{}` when empty.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .common import JsonObject, Number, Timestamp, WireModel
from .limits import JsonInput


class MarkerDetails(WireModel):
    marker_id: UUID
    center_location_long: float
    center_location_cross: float
    x_negative: float
    x_positive: float
    z_positive: float
    z_negative: float
    long_size: float
    cross_size: float
    custom_props: JsonObject = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class MarkerDetailsPut(WireModel):
    """Details stored as given (admin portal); they are recomputed when the points change."""

    center_location_long: Number
    center_location_cross: Number
    x_negative: Number
    x_positive: Number
    z_positive: Number
    z_negative: Number
    long_size: Number
    cross_size: Number
    custom_props: JsonInput = Field(default_factory=dict)
