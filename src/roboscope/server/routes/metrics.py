"""`GET /metrics`: Prometheus's text format, at the root where scrapers look by default."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ... import metrics
from ...services.observability import scrape
from ..deps import State

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format 0.0.4 (docs/observability.md).",
        }
    },
)
async def prometheus_metrics(state: State) -> Response:
    """Request counts and latencies by route template, live streams, events delivered,
    presence members, locks held, Redis and database errors, rate-limited requests; summed
    over all worker processes of the server."""
    return Response(await scrape(state.redis), media_type=metrics.CONTENT_TYPE)
