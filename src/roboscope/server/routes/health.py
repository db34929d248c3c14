"""Health: the report for people (`/health`), the probes for orchestrators (`/health/live`,
`/health/ready`), and the version."""

from __future__ import annotations

import pydantic_core
from fastapi import APIRouter
from starlette.responses import Response

from ... import API_VERSION, __version__
from ...errors import RETRY_AFTER_SECONDS
from ...services.health import check_health, check_readiness
from ...wire import Health, Liveness, Readiness, VersionInfo
from ..deps import State
from ..responses import wire

router = APIRouter(tags=["health"])

_LIVE = pydantic_core.to_json(Liveness(status="ok", version=__version__))
_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}
"""On every 503 of a probe, as on every other 503: a load balancer may honour it."""
_VERSION = pydantic_core.to_json(VersionInfo(version=__version__, api_version=API_VERSION))


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is down."}},
)
async def health(state: State) -> Response:
    """Whether the database and Redis are reachable (503 when the database is not)."""
    report = await check_health(state.database, state.redis)
    # `database_error` only when there is one.
    content = pydantic_core.to_json(report, exclude_none=True)
    if report.database == "up":
        return Response(content, media_type="application/json")
    return Response(content, status_code=503, media_type="application/json", headers=_RETRY)


@router.get("/health/live", response_model=Liveness)
async def health_live() -> Response:
    """Liveness: the process answers HTTP. Touches neither the database nor Redis, so an
    outage of either never gets a healthy process restarted."""
    return Response(_LIVE, media_type="application/json")


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "Not ready: the database or Redis is down, or the schema is behind.",
        }
    },
)
async def health_ready(state: State) -> Response:
    """Readiness: the database and Redis both serve and the schema is current (200); else
    503 listing the problems. Send traffic only to ready processes."""
    report = await check_readiness(state.database, state.redis)
    if report.status == "ready":
        return wire(report)
    return wire(report, status_code=503, headers=_RETRY)


@router.get("/version", response_model=VersionInfo)
async def version() -> Response:
    """The server's version and the API's."""
    return Response(_VERSION, media_type="application/json")
