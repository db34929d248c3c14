"""The health report: what a load balancer or an operator needs to see."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import WireModel

ServiceState = Literal["up", "down"]


class Health(WireModel):
    status: Literal["ok", "degraded"]
    version: str | None = Field(
        default=None, description="The server's version (absent from servers before 0.1.0)."
    )
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


class Liveness(WireModel):
    """The process answers: all `GET /health/live` checks (no database, no Redis)."""

    status: Literal["ok"]
    version: str


MigrationState = Literal["current", "behind", "unknown"]


class Readiness(WireModel):
    """Whether this process can serve every request now: what an orchestrator or a load
    balancer asks before sending traffic (`GET /health/ready`)."""

    status: Literal["ready", "not_ready"]
    version: str
    database: ServiceState
    redis: ServiceState
    migrations: MigrationState = Field(
        description="`behind`: the database needs `roboscope db upgrade` (or is at a revision "
        "this server does not know); `unknown` while the database is down.",
    )
    problems: list[str] = Field(
        description="What is wrong, one short sentence each; empty when ready."
    )


class VersionInfo(WireModel):
    version: str = Field(description="The server's version.")
    api_version: str = Field(description="The API's version: the path prefix `/api/<it>`.")
