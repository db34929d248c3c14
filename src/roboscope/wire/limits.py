"""The configured cap on free-form JSON objects in request bodies (`meta`, `custom_props`).

`JsonInput` fields check it before anything else: one encode of the raw value in
pydantic-core, measured on the compact JSON. A 3.8 MB `meta` is then refused at that cost,
instead of after a deep validation walk that held the event loop for about a second.
Response models use plain `JsonObject` (stored data is never refused on the way out), and
outside a request (the SDK) there is no cap.

How the cap reaches the validator is one of the two context variables left in the code
(README.md, "How data crosses the layers", lists every such channel).
The cap is a setting (ROBOSCOPE_MAX_META_BYTES), so it cannot be a static constraint of
these import-time models, and FastAPI validates request bodies without pydantic's
validation context, the explicit way to hand a validator a run-time value. So the edge sets
`MAX_JSON_BYTES` for the request and the validator reads it: `server/params.py`'s
`JSON_LIMIT`, which `server/app.py` puts on every router with writes (no router has to
remember it), and the hot routes' edge for the bodies it parses itself. Checking in the
services instead would run after the deep walk, and would split one 422 into two.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Any

import pydantic_core
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from .common import JsonObject

MAX_JSON_BYTES: ContextVar[int | None] = ContextVar("roboscope_max_json_bytes", default=None)
"""The cap of the request being validated; None (no cap) outside a request: see above."""


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON (UTF-8, no spaces)."""
    return len(pydantic_core.to_json(value))


def _within_limit(value: Any) -> Any:
    limit = MAX_JSON_BYTES.get()
    if limit is None or not isinstance(value, dict):
        return value
    size = json_size(value)
    if size > limit:
        raise PydanticCustomError(
            "field_too_large",
            "{size} bytes as compact JSON, over the limit of {limit} (ROBOSCOPE_MAX_META_BYTES)",
            {"size": size, "limit": limit},
        )
    return value


JsonInput = Annotated[JsonObject, BeforeValidator(_within_limit)]
"""A free-form JSON object in a request body, capped at `MAX_JSON_BYTES`."""
