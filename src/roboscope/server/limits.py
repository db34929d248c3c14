"""The HTTP edge of the per-caller limits: which budget a request draws on, and the
live-stream place a stream holds for as long as its response runs.

`rate_limit` is one dependency, given once to every router with writes where the app mounts
them (server/app.py): it sorts a request by method and route path, so no handler knows about
it, but for the hot ones, whose one Redis call takes the draw itself where it can
(`drawing`, `FoldedDraw`; the edge serves them: server/hot_routes.py). The 429 itself is
decided in one place, `services.limits.refused`. A request that drew on its budget and then
fails with 503 gets it back (`refund_drawn`). Reads are never limited; which writes draw on
which budget is in rate_budgets.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.types import Scope

from .. import API_PREFIX
from ..rate_budgets import OTHER_WRITES, ROUTED, Budget
from ..services.access import Identity
from ..services.limits import Draw
from ..services.stream_caps import StreamSlot
from .auth import Caller
from .methods import WRITE_METHODS
from .state import AppState

T = TypeVar("T")


def budget_of(method: str, path: str) -> Budget | None:
    """The budget a request of `method` on the route `path` (its template, with or without
    the API prefix: a route in the request scope has its router's path) draws on."""
    if method not in WRITE_METHODS:
        return None
    path = path.removeprefix(API_PREFIX)
    for spec in ROUTED:
        if path.startswith(spec.routes or ""):
            return spec.name
    return OTHER_WRITES


async def rate_limit(request: Request, identity: Caller) -> None:
    """Draw the request from its caller's budget, or refuse it with 429 (`Retry-After`). What
    it drew is noted on the request, for `refund_drawn` (a plain dependency: one with `yield`
    would see the handler's 503 too, at a cost on every write)."""
    method = request.scope["method"]
    if method not in WRITE_METHODS:
        return
    state: AppState = request.app.state.roboscope
    if state.rate_limits is None:
        return
    path: str = getattr(request.scope.get("route"), "path", None) or request.scope["path"]
    await draw(state, request.scope, identity, budget_of(method, path))


async def draw(state: AppState, scope: Scope, identity: Identity, budget: Budget | None) -> None:
    """`rate_limit` once the budget is known (the hot routes know theirs: hot_routes.py)."""
    limits = state.rate_limits
    if budget is not None and limits is not None and await limits.take(identity, budget):
        _drew(scope, identity, budget)


async def drawing(
    state: AppState,
    scope: Scope,
    identity: Identity,
    budget: Budget | None,
    operation: Callable[[Draw | None], Awaitable[T]],
) -> T:
    """`draw`, then `operation`, for a handler that passes its `FoldedDraw` to its one Redis
    script call (the hot routes): where the limiter folds, the budget is drawn in that same
    call (services/limits.py: `folded`, `settle`), else by `draw` first."""
    limits = state.rate_limits
    if budget is None or limits is None or (folded := limits.folded(identity, budget)) is None:
        await draw(state, scope, identity, budget)
        return await operation(None)
    try:
        result = await operation(folded)
    except Exception as error:
        if await limits.settle(identity, budget, folded, error):
            _drew(scope, identity, budget)
        raise
    if await limits.settle(identity, budget, folded, None):
        _drew(scope, identity, budget)
    return result


def _drew(scope: Scope, identity: Identity, budget: Budget) -> None:
    """Note the draw on the request, for `refund_drawn`."""
    scope.setdefault("state", {})["rate_drawn"] = (identity, budget)


async def _drawn_already() -> None:
    """Through FastAPI, `rate_limit` has drawn before the handler: nothing to fold."""


FoldedDraw = Annotated[Draw | None, Depends(_drawn_already)]
"""A hot handler's parameter: the draw its Redis script takes (`drawing`), else None."""


async def refund_drawn(request: Request) -> None:
    """Give back what `rate_limit` drew for this request, which failed with 503 (the edge's
    503 handler calls it: server/app.py)."""
    drawn: tuple[Identity, Budget] | None = getattr(request.state, "rate_drawn", None)
    state: AppState = request.app.state.roboscope
    if drawn is not None and state.rate_limits is not None:
        await state.rate_limits.refund(*drawn)


RATE_LIMIT = Depends(rate_limit)
"""For `app.include_router(..., dependencies=[RATE_LIMIT])`."""


async def stream_slot(request: Request, caller: Caller) -> Callable[[], StreamSlot]:
    """How the live-stream route claims the caller's place: 429 `too_many_streams` or 503
    `stream_capacity` instead, before the stream starts. The handler claims it once every
    parameter is valid (a refused request holds no place) and the stream's response gives
    it back when it ends (server/event_stream.py). Not a dependency with `yield`: FastAPI
    keeps one suspended for the stream's whole life, about 2 KB of each idle stream."""
    return slot_claim(request.app.state.roboscope, caller)


def slot_claim(state: AppState, caller: Identity) -> Callable[[], StreamSlot]:
    """`stream_slot` once the state is known (the edge opens streams itself too:
    server/hot_stream.py)."""
    return partial(state.stream_caps.claim, caller.budget_key)


LiveStreamSlot = Annotated[Callable[[], StreamSlot], Depends(stream_slot)]
"""A parameter of a live-stream route: the stream caps apply to it (documented centrally
in server/openapi.py)."""
