"""One router per resource, mounted under /api/v1."""

from fastapi import APIRouter

from . import (
    anchors,
    health,
    laser_guides,
    locks,
    marker_details,
    markers,
    presence,
    reference_sets,
    spaces,
    work_sessions,
)

api = APIRouter()
for module in (
    health,
    spaces,
    work_sessions,
    markers,
    marker_details,
    anchors,
    laser_guides,
    reference_sets,
    presence,
    locks,
):
    api.include_router(module.router)
