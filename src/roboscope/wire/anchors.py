"""Anchors: a world position for a (work session, run, local z) key."""

from __future__ import annotations

from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import BeforeValidator, Field, model_validator

from .common import INT64_MAX, Number, Point, Timestamp, WireModel


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


Int64 = Annotated[int, BeforeValidator(_json_integer), Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
"""A JSON integer that fits a signed 64-bit integer (Swift's `Int`)."""


class Anchor(WireModel):
    id: UUID
    session_id: UUID
    run: int
    local_z: float
    world_position: list[float]
    created_at: Timestamp
    updated_at: Timestamp


class AnchorUpsert(WireModel):
    """`POST /anchors`: `local_z` is matched exactly (2 and 2.0 are one key)."""

    session_id: UUID = Field(description="A work session id.")
    run: Int64
    local_z: Number
    world_position: Point


class AnchorUpdate(WireModel):
    """Absent `world_position` leaves the anchor unchanged; `null` is refused."""

    world_position: Point | None = None

    @model_validator(mode="after")
    def _refuse_null(self) -> Self:
        if "world_position" in self.model_fields_set and self.world_position is None:
            raise ValueError("world_position cannot be null")
        return self
