"""The health report: what a load balancer or an operator needs to see."""

from __future__ import annotations

from typing import Literal

from .common import WireModel

ServiceState = Literal["up", "down"]


class Health(WireModel):
    status: Literal["ok", "degraded"]
    database: ServiceState
    redis: ServiceState | None = None
