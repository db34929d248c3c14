"""Laser guides: one grid of guide lines per space."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from .common import JsonObject, Number, Timestamp, WireModel
from .limits import JsonInput

GRID_MAX = 100_000


class GridLine(WireModel):
    x: Number
    z: Number
    segment_length: Annotated[Number, Field(gt=0)]


class LaserGuide(WireModel):
    id: UUID
    space_id: UUID
    grid: list[GridLine]
    meta: JsonObject = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class LaserGuidePut(WireModel):
    grid: list[GridLine] = Field(max_length=GRID_MAX)
    meta: JsonInput = Field(default_factory=dict)
