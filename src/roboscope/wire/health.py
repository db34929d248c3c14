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
RedisKind = Literal["single", "sentinel", "cluster"]


class RedisServer(WireModel):
    """One Redis server in use."""

    address: str = Field(description="`host:port`, or the path of a unix socket.")
    role: Literal["primary", "replica"]


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
    redis_kind: RedisKind = Field(
        default="single",
        description="What `ROBOSCOPE_REDIS_URL` names: one Redis (`single`, also the embedded "
        "one), a Sentinel set (`sentinel`) or a Redis Cluster (`cluster`).",
    )
    redis_nodes: list[RedisServer] = Field(
        default_factory=list,
        description="The Redis servers in use, primaries first: the one; the primary the "
        "sentinels name now and the replicas they know; the cluster's primaries and replicas "
        "as the cluster announces them. Empty when they could not be learnt.",
    )


class VersionInfo(WireModel):
    version: str = Field(description="The server's version.")
    api_version: str = Field(description="The API's version: the path prefix `/api/<it>`.")
