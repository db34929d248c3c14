"""Request budgets kept in Redis, so every API process draws on the same one per caller.

One atomic script call per request (`rate_take.lua`, GCRA): no read-modify-write race between
processes, and one key per active caller and budget that expires once its bucket is full
again. The rules (which budget, what happens when Redis is down) are in services/limits.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import RedisClient


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` sustained, with up to `burst` requests at once from an idle start."""

    per_second: float
    burst: int

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.per_second


class RateStore:
    def __init__(self, redis: RedisClient) -> None:
        self._take = scripts.register(redis, "rate_take")

    async def take(self, budget: str, caller: str, rate: Rate) -> int:
        """Draw one request from `caller`'s `budget`: 0 when allowed, else the milliseconds
        until one more request would be. Raises `RedisUnavailable` when Redis cannot answer."""
        allowed, wait_ms = await self._take(
            [keys.rate_budget(budget, caller)], [repr(rate.interval_ms), rate.burst]
        )
        return 0 if int(allowed) == 1 else max(1, int(wait_ms))
