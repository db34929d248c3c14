"""Answers serialized straight from wire models by pydantic-core.

Handlers return these instead of letting FastAPI validate and encode the result a second
time; `response_model=` on each route still documents the shape in OpenAPI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pydantic_core
from pydantic import BaseModel
from starlette.responses import Response

from ..wire.errors import LockedError

FENCED_WRITE: dict[int | str, dict[str, object]] = {
    423: {"model": LockedError, "description": "`X-Lock-Token` does not hold the lock."}
}
"""OpenAPI note for writes that honour `X-Lock-Token` (server/openapi.py documents every other
error centrally)."""


def wire(
    body: BaseModel | Sequence[BaseModel],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    content = pydantic_core.to_json(body)
    return Response(
        content, status_code=status_code, media_type="application/json", headers=headers
    )


def no_content() -> Response:
    return Response(status_code=204)
