"""Request parameters shared by the data routes: the configured limits, list paging, and
`Idempotency-Key` on creates (with the answer it produces).

Every dependency is `async def` (see deps.py: a plain `def` would cost a thread hop).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request
from starlette.responses import Response

from ..services.idempotency import Answer, Once, once
from ..services.limits import Limits
from ..services.paging import PageRequest, page_request
from .state import AppState


async def get_limits(request: Request) -> Limits:
    state: AppState = request.app.state.roboscope
    settings = state.settings
    return Limits(max_meta_bytes=settings.max_meta_bytes, max_list_items=settings.max_list_items)


BodyLimits = Annotated[Limits, Depends(get_limits)]


async def get_paging(
    limits: BodyLimits,
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
    return page_request(limits, limit=limit, cursor=cursor)


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
