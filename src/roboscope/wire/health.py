"""The health report: what a load balancer or an operator needs to see."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import WireModel

ServiceState = Literal["up", "down"]


class Health(WireModel):
    status: Literal["ok", "degraded"]
    database: ServiceState
    redis: ServiceState | None = None
    database_error: str | None = Field(
        default=None,
        description="Why the database is down (e.g. `database roboscope on db:5432 does not "
        "exist`); absent when it is up.",
    )
