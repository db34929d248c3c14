"""The HTTP edge of the per-caller limits: which budget a request draws on, and the
live-stream place a stream holds for as long as its response runs.

`rate_limit` is one dependency, given once to every router with writes where the app mounts
them (server/app.py): it sorts a request by method and route path, so no handler knows about
it. The 429 itself is decided in one place, `services.limits.refused`. A request that drew
on its budget and then fails with 503 gets it back (`RateLimits.refund`).
Reads are never limited; presence writes draw on `heartbeats`, lock writes on `locks`, every
other write on `writes` (services/limits.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from ..errors import ServiceUnavailable
from ..services.limits import Budget
from ..services.stream_caps import StreamSlot
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


async def rate_limit(request: Request, identity: Caller) -> AsyncIterator[None]:
    """Draw the request from its caller's budget, or refuse it with 429 (`Retry-After`); give
    it back when the request fails with 503 (a dependency with `yield` sees the handler's
    exception)."""
    method = request.scope["method"]
    state: AppState = request.app.state.roboscope
    limits = state.rate_limits
    budget = (
        None if limits is None or method not in WRITE_METHODS else budget_of(method, _path(request))
    )
    if limits is None or budget is None or not await limits.take(identity, budget):
        yield
        return
    try:
        yield
    except ServiceUnavailable:
        await limits.refund(identity, budget)
        raise


def _path(request: Request) -> str:
    path: str = getattr(request.scope.get("route"), "path", None) or request.scope["path"]
    return path


RATE_LIMIT = Depends(rate_limit)
"""For `app.include_router(..., dependencies=[RATE_LIMIT])`."""


async def stream_slot(request: Request, caller: Caller) -> AsyncIterator[StreamSlot]:
    """A live-stream place for the caller, held until the stream's response has run (a
    dependency with `yield` exits after the response is sent: ended, failed or cancelled);
    429 `too_many_streams` or 503 `stream_capacity` instead, before the stream starts."""
    state: AppState = request.app.state.roboscope
    with state.stream_caps.claim(caller.budget_key) as slot:
        yield slot


LiveStreamSlot = Annotated[StreamSlot, Depends(stream_slot)]
"""A parameter of a live-stream route: the stream caps apply to it (documented centrally
in server/openapi.py)."""
