"""List answers: a bare JSON array (what the iOS clients decode), the next page announced in
a `Link: <…>; rel="next"` header (RFC 8288), and long lists encoded a chunk at a time.

pydantic-core holds the GIL for a whole `to_json` call, so a worker thread would not free
the event loop; what frees it is small steps. A list longer than one chunk is streamed:
each chunk of rows is converted and encoded, sent, and the loop runs other requests before
the next one. The bytes are the same as one `to_json` of the whole list.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pydantic_core
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..services.paging import Page
from ..wire.changes import CURSOR_HEADER

CHUNK_ITEMS = 100
"""Rows converted and encoded per step (about a millisecond of work for markers)."""

JSON = "application/json"


def list_response(request: Request, page: Page[Any]) -> Response:
    headers = {}
    if page.change_cursor is not None:
        headers[CURSOR_HEADER] = str(page.change_cursor)
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        headers["link"] = f'<{next_url}>; rel="next"'
    if len(page.rows) <= CHUNK_ITEMS:
        return Response(pydantic_core.to_json(page.items()), media_type=JSON, headers=headers)
    return StreamingResponse(_chunks(page), media_type=JSON, headers=headers)


async def _chunks(page: Page[Any]) -> AsyncIterator[bytes]:
    yield b"["
    for start in range(0, len(page.rows), CHUNK_ITEMS):
        items = [page.convert(row) for row in page.rows[start : start + CHUNK_ITEMS]]
        inner = pydantic_core.to_json(items)[1:-1]
        yield inner if start == 0 else b"," + inner
        await asyncio.sleep(0)  # other requests run between chunks
    yield b"]"
