"""One router per resource, mounted under /api/v1.

Presence and locks come first: FastAPI matches a request against the routes in order (and
more than once per level of nesting), so the Redis-only routes, the hot path by far (a
heartbeat every 10 s per user), skip matching against every data route (docs/performance.md).
"""

from fastapi import APIRouter

from . import (
    anchors,
    changes,
    health,
    identity,
    laser_guides,
    locks,
    marker_details,
    markers,
    presence,
    reference_sets,
    spaces,
    stream_tokens,
    tokens,
    work_sessions,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        presence,
        locks,
        health,
        spaces,
        work_sessions,
        markers,
        marker_details,
        anchors,
        laser_guides,
        reference_sets,
        changes,
        stream_tokens,
        tokens,
        identity,
    )
)
"""Mounted one by one on the app: one level of nesting less to match through."""
