from __future__ import annotations

import pydantic_core
from fastapi import APIRouter
from starlette.responses import Response

from ...services.health import check_health
from ...wire import Health
from ..deps import Realtime

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is down."}},
)
async def health(rt: Realtime) -> Response:
    """Whether the database and Redis are reachable (503 when the database is not)."""
    report = await check_health(rt.database, rt.redis)
    # `database_error` only when there is one.
    content = pydantic_core.to_json(report, exclude_none=True)
    status = 200 if report.database == "up" else 503
    return Response(content, status_code=status, media_type="application/json")
