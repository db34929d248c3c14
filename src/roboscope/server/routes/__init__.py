"""One router per resource, mounted under /api/v1."""

from fastapi import APIRouter

from . import health, markers, spaces, work_sessions

api = APIRouter()
for module in (health, spaces, work_sessions, markers):
    api.include_router(module.router)
