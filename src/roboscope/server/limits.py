"""The HTTP edge of the per-caller limits: which budget a request draws on, and live-stream
slots held for as long as a stream's response runs.

`rate_limit` is one dependency, given once to every router where the app mounts them
(server/app.py): it sorts a request by method and route path, so no handler knows about it.
Reads are never limited; presence writes draw on `heartbeats`, lock writes on `locks`, every
other write on `writes` (services/limits.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.background import BackgroundTask
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..services.limits import Budget
from ..services.stream_caps import StreamSlot
from ..wire.errors import RateLimitedError, StreamUnavailableError
from .auth import Caller
from .middleware import WRITE_METHODS
from .state import AppState

API_PREFIX = "/api/v1"  # (as server/app.py mounts the routers)
_PREFIXED: tuple[tuple[str, Budget], ...] = (("/presence/", "heartbeats"), ("/locks/", "locks"))


def budget_of(method: str, path: str) -> Budget | None:
    """The budget a request of `method` on the route `path` (its template, with or without
    the API prefix: a route in the request scope has its router's path) draws on."""
    if method not in WRITE_METHODS:
        return None
    path = path.removeprefix(API_PREFIX)
    for prefix, budget in _PREFIXED:
        if path.startswith(prefix):
            return budget
    return "writes"


async def rate_limit(request: Request, identity: Caller) -> None:
    """Draw the request from its caller's budget, or refuse it with 429 (`Retry-After`)."""
    method = request.scope["method"]
    if method not in WRITE_METHODS:
        return
    state: AppState = request.app.state.roboscope
    if state.rate_limits is None:
        return
    path: str = getattr(request.scope.get("route"), "path", None) or request.scope["path"]
    budget = budget_of(method, path)
    if budget is not None:
        await state.rate_limits.take(identity, budget)


RATE_LIMIT = Depends(rate_limit)
"""For `app.include_router(..., dependencies=[RATE_LIMIT])`."""


STREAM_CAPS: dict[int | str, dict[str, Any]] = {
    429: {
        "model": RateLimitedError,
        "description": "`too_many_streams`: the caller holds ROBOSCOPE_LIVE_MAX_STREAMS_PER_CALLER "
        "streams on this server process; close one, or retry after `Retry-After` seconds.",
    },
    503: {
        "model": StreamUnavailableError,
        "description": "`stream_capacity`: this server process serves ROBOSCOPE_LIVE_MAX_STREAMS "
        "streams (retry, another process may take it); `service_unavailable`: the database or "
        "Redis is down. Retry after `Retry-After` seconds.",
    },
}
"""OpenAPI `responses` of a route that holds a live-stream slot."""


class HeldResponse(Response):
    """`response`, holding a live-stream slot until it has run (ended, failed or cancelled)."""

    def __init__(self, response: Response, slot: StreamSlot) -> None:
        # (Response.__init__ is not called: every attribute is the wrapped response's.)
        self._response = response
        self._slot = slot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    @property
    def background(self) -> BackgroundTask | None:
        return self._response.background

    @background.setter
    def background(self, value: BackgroundTask | None) -> None:
        self._response.background = value

    @property
    def headers(self) -> MutableHeaders:
        return self._response.headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._response(scope, receive, send)
        finally:
            self._slot.release()


def held(response: Response, slot: StreamSlot) -> Response:
    return HeldResponse(response, slot)
