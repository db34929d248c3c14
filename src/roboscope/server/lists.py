"""List answers: a bare JSON array (what the iOS clients decode), the next page announced in
a `Link: <…>; rel="next"` header (RFC 8288), and long lists encoded a chunk at a time.

pydantic-core holds the GIL for a whole `to_json` call, so a worker thread would not free
the event loop; what frees it is small steps. A list longer than one chunk is streamed:
each chunk of rows is converted and encoded, sent, and the loop runs other requests before
the next one. The bytes are the same as one `to_json` of the whole list. A list its service
encoded as it read it (`EncodedPage`, the markers) is sent as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pydantic_core
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..services.paging import EncodedPage, Page
from ..wire.changes import CURSOR_HEADER

CHUNK_ITEMS = 100
"""Rows converted and encoded per step (about a millisecond of work for markers)."""

JSON = "application/json"


ONE_BODY_BYTES = 1 << 20
"""An encoded page up to this size goes as one body (one copy of it, a Content-Length);
a larger one is sent a chunk at a time, never copied whole."""


def list_response(request: Request, page: Page[Any] | EncodedPage) -> Response:
    headers = {}
    if page.change_cursor is not None:
        headers[CURSOR_HEADER] = str(page.change_cursor)
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        headers["link"] = f'<{next_url}>; rel="next"'
    if isinstance(page, EncodedPage):
        return _encoded(page, headers)
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


def _encoded(page: EncodedPage, headers: dict[str, str]) -> Response:
    """Its chunks are JSON arrays of consecutive items: the answer is one array of them."""
    if len(page.chunks) == 1:
        return Response(page.chunks[0], media_type=JSON, headers=headers)
    if sum(len(chunk) for chunk in page.chunks) <= ONE_BODY_BYTES:
        body = b"[" + b",".join(chunk[1:-1] for chunk in page.chunks) + b"]"
        return Response(body, media_type=JSON, headers=headers)
    return StreamingResponse(_encoded_chunks(page.chunks), media_type=JSON, headers=headers)


async def _encoded_chunks(chunks: Sequence[bytes]) -> AsyncIterator[bytes]:
    for n, chunk in enumerate(chunks):
        yield (b"[" if n == 0 else b",") + chunk[1:-1]
    yield b"]"
