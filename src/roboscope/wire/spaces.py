"""Spaces: the physical places markers live in."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .common import JsonObject, Name, Patch, Text, Timestamp, Url, WireModel
from .limits import JsonInput

Key = Name


class Space(WireModel):
    id: UUID
    key: str
    name: str
    description: str | None = None
    model_glb_url: str | None = None
    model_usdc_url: str | None = None
    preview_url: str | None = None
    scan_url: str | None = None
    ml_model_url: str | None = None
    meta: JsonObject = Field(default_factory=dict)
    is_active: bool = True
    created_at: Timestamp
    updated_at: Timestamp


class SpaceCreate(WireModel):
    key: Key
    name: Name
    description: Text | None = None
    model_glb_url: Url = None
    model_usdc_url: Url = None
    preview_url: Url = None
    scan_url: Url = None
    ml_model_url: Url = None
    meta: JsonInput = Field(default_factory=dict)
    is_active: bool = True


class SpaceUpdate(Patch):
    required_when_present = frozenset({"key", "name", "meta", "is_active"})

    key: Key | None = None
    name: Name | None = None
    description: Text | None = None
    model_glb_url: Url = None
    model_usdc_url: Url = None
    preview_url: Url = None
    scan_url: Url = None
    ml_model_url: Url = None
    meta: JsonInput | None = None
    is_active: bool | None = None
