"""Request parameters shared by the data routes: the configured limits, list paging, and
`Idempotency-Key` on creates (with the answer it produces).

Every dependency is `async def` (see deps.py: a plain `def` would cost a thread hop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from starlette.responses import Response

from ..services.idempotency import Answer, Once, once
from ..services.paging import PageRequest, page_request
from ..wire.limits import MAX_JSON_BYTES
from .state import AppState


async def _json_limit(request: Request) -> AsyncIterator[None]:
    """Caps `meta`/`custom_props` in this request's body at ROBOSCOPE_MAX_META_BYTES
    (wire/limits.py says why through `MAX_JSON_BYTES`).

    A router-level dependency: FastAPI solves dependencies before it validates the body, so
    the cap is in place when the body's `JsonInput` fields are checked.
    """
    state: AppState = request.app.state.roboscope
    token = MAX_JSON_BYTES.set(state.settings.max_meta_bytes)
    try:
        yield
    finally:
        MAX_JSON_BYTES.reset(token)


JSON_LIMIT = Depends(_json_limit)
"""Mounted by `server/app.py` on every router with writes, so every body is capped."""


async def get_max_list_items(request: Request) -> int:
    state: AppState = request.app.state.roboscope
    return state.settings.max_list_items


MaxListItems = Annotated[int, Depends(get_max_list_items)]


async def get_paging(
    max_items: MaxListItems,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Answer at most this many items (at most ROBOSCOPE_MAX_LIST_ITEMS); "
            'when more follow, the `Link` header holds the next page\'s URL (rel="next").',
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            description='Opaque: taken from the previous page\'s `Link: <…>; rel="next"`.',
        ),
    ] = None,
) -> PageRequest:
    return page_request(max_items, limit=limit, cursor=cursor)


Paging = Annotated[PageRequest, Depends(get_paging)]


async def get_once(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Create at most once per key: a repeat (same route, same body) within "
            "ROBOSCOPE_IDEMPOTENCY_RETENTION_HOURS replays the first answer with "
            "`Idempotent-Replayed: true`; the same key with another body gets 422."
        ),
    ] = None,
) -> Once | None:
    if idempotency_key is None:
        return None
    state: AppState = request.app.state.roboscope
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return once(
        idempotency_key,
        scope=f"{request.method} {path}",
        body=await request.body(),  # the bytes FastAPI already read: no second read or parse
        retention_hours=state.settings.idempotency_retention_hours,
    )


IdempotencyKey = Annotated[Once | None, Depends(get_once)]


def answered(answer: Answer) -> Response:
    headers = {"idempotent-replayed": "true"} if answer.replayed else None
    return Response(
        answer.body, status_code=answer.status, media_type="application/json", headers=headers
    )
