from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ...services.health import check_health
from ...wire import Health
from ..deps import DB
from ..responses import wire

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is down."}},
)
async def health(db: DB) -> Response:
    """Whether the database is reachable (503 when it is not)."""
    report = await check_health(db)
    return wire(report, status_code=200 if report.database == "up" else 503)
