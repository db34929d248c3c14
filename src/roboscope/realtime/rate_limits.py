"""Request budgets kept in Redis, so every API process draws on the same one per caller.

One atomic script step per request (`rate_common.lua`, GCRA): no read-modify-write race
between processes, and one key per active caller and budget that expires once its bucket is
full again. The step is a call of its own (`rate_take.lua`), or, on a single Redis, part of
the request's own operation's script (`draw`: draws.py); one more call (`rate_refund.lua`)
when the request then fails with 503. The rules (which budget, what happens when Redis is
down, when to refund) are in services/limits.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import RedisClient, is_cluster
from roboscope.realtime.draws import Draw


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
        self._refund = scripts.register(redis, "rate_refund")
        self.folds = not is_cluster(redis)
        """Whether an operation's script can take a draw (`draw`): not on a Redis Cluster,
        where the budget's key is in another slot than the operation's."""

    def draw(self, budget: str, caller: str, rate: Rate) -> Draw:
        """One request of `caller`'s `budget`, for the operation's own script to take."""
        if not self.folds:
            raise ValueError("a Redis Cluster keeps the budget in another slot: use `take`")
        return Draw(keys.rate_budget(budget, caller), rate.interval_ms, rate.burst)

    async def take(self, budget: str, caller: str, rate: Rate) -> int:
        """Draw one request from `caller`'s `budget`: 0 when allowed, else the milliseconds
        until one more request would be. Raises `RedisUnavailable` when Redis cannot answer."""
        allowed, wait_ms = await self._take(
            [keys.rate_budget(budget, caller)], [repr(rate.interval_ms), rate.burst]
        )
        return 0 if int(allowed) == 1 else max(1, int(wait_ms))

    async def refund(self, budget: str, caller: str, rate: Rate) -> bool:
        """Give one request back to `caller`'s `budget` (never past a full bucket); True when
        something was given back. Raises `RedisUnavailable` when Redis cannot answer."""
        given = await self._refund([keys.rate_budget(budget, caller)], [repr(rate.interval_ms)])
        return bool(given)
