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
        exclude_if=lambda value: value is None,
        description="Why the database is down (e.g. `database roboscope on db:5432 does not "
        "exist`); only present when it is.",
    )
    redis_problem: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Why Redis is down (unreachable, out of memory, busy running a script, …); "
        "only present when it is.",
    )
