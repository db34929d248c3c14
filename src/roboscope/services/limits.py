"""Configured limits on what one request may store or read, checked with one helper each.

The limits come from `Settings`, so they cannot be static constraints on the wire models: the
edge builds a `Limits` from the settings and the services check bodies against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import BaseModel

from ..errors import RoboscopeError


class FieldTooLarge(RoboscopeError):
    status = 422
    code = "field_too_large"


@dataclass(frozen=True, slots=True)
class Limits:
    max_meta_bytes: int
    max_list_items: int


def json_size(value: Any) -> int:
    """The size of `value` as compact JSON (pydantic-core's encoder: no spaces, UTF-8)."""
    return len(pydantic_core.to_json(value))


def check_json_fields(
    limits: Limits, body: BaseModel, names: Iterable[str], *, prefix: str = ""
) -> None:
    """Refuse any free-form JSON field among `names` whose compact encoding exceeds the limit.

    Checked before anything is written or copied, so an oversized object costs one encode.
    """
    for name in names:
        value = getattr(body, name)
        if value is None:
            continue
        size = json_size(value)
        if size > limits.max_meta_bytes:
            field = f"{prefix}{name}"
            raise FieldTooLarge(
                f"{field} is {size} bytes as JSON; the limit is {limits.max_meta_bytes}",
                field=field,
                limit=limits.max_meta_bytes,
            )
