"""The bare baseline route of `bench/`, mounted only with `ROBOSCOPE_BENCHMARK_ROUTES=true`.

It goes through the same app and middleware as the lock and presence routes, but parses no
body, resolves no dependency and does exactly one Redis `SET NX PX`, answering a constant body:
the benchmark reports their throughput as a fraction of "the framework plus one Redis round
trip", the least any Redis-backed route can cost.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...realtime.baseline import set_nx
from ..state import AppState

router = APIRouter(prefix="/_bench", include_in_schema=False)

_OK = b'{"ok":true}'


@router.post("/set-nx")
async def set_nx_route(request: Request) -> Response:
    """One `SET NX PX 30000` on a fresh key (keys expire by themselves)."""
    state: AppState = request.app.state.roboscope
    await set_nx(state.redis, f"roboscope:bench:{secrets.token_hex(12)}", "1")
    return Response(_OK, media_type="application/json")
