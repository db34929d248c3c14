"""Per-caller request budgets: heartbeats, lock operations and other writes.

Each caller (`Identity.budget_key`: its token, else its address) has one budget of each kind
(rate_budgets.py describes them), kept in Redis and shared by every API process
(realtime/rate_limits.py). `refused` is the one place where a request is refused with 429
(`RateLimits.take` and `RateLimits.settle` call it); the edge (server/limits.py) decides
which budget a request draws on.

When Redis cannot answer, the limiter lets the request through (fail open) and says so in a
log line at most once a minute: a write that needs only the database must not fail because
the limiter is blind. It then stops asking Redis for `BLIND_SECONDS`, so a stalled Redis
does not add its timeout to every write meanwhile. Heartbeats and lock operations need Redis
themselves and get their own 503 right after.

A request that drew on its budget and then failed with 503 (the database or Redis could not
serve it) gets its request back (`refund`): a client told "not now" retries after
`Retry-After`, and must not pay twice for one request.

The hot routes (heartbeats, lock acquires and releases) draw in the same Redis call as their
operation where the store can (`folded`, realtime/draws.py): one round trip instead of two,
the operation's script running only when the budget allows it. `settle` then does what
`take` would have done before the operation: 429 when the budget refused; the limiter blind
when Redis could not answer; and, for a request that failed before its script ran (a 403, a
422), the draw taken then, so such a request still pays, and gets 429 first when its budget
is spent. The budget's own key is not a work session's (in a Redis Cluster it lives in
another slot), so there, and for every other write, the take is a call of its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

from ..errors import RateLimited, RedisUnavailable
from ..rate_budgets import BY_NAME, Budget
from ..realtime.draws import BudgetSpent, Draw
from ..realtime.rate_limits import Rate, RateStore
from .access import Identity

# `Draw` is the type of the hot handlers' draw, for the edge (server/limits.py `FoldedDraw`).
__all__ = ["BLIND_SECONDS", "BudgetSpent", "Draw", "RateLimits", "refused"]

log = logging.getLogger("roboscope.limits")

BLIND_SECONDS = 5.0
BLIND_LOG_SECONDS = 60.0


class RateLimits:
    def __init__(self, store: RateStore, rates: dict[Budget, Rate | None]) -> None:
        self._store = store
        self._rates = rates
        self._blind_logged_at = -math.inf
        self._blind_until = -math.inf

    async def take(self, identity: Identity, budget: Budget) -> bool:
        """Draw one request of `budget` for `identity`, or raise `RateLimited` (429). True
        when it drew one (False: the budget is off, or Redis could not be asked)."""
        rate = self._rates.get(budget)
        if rate is None or time.monotonic() < self._blind_until:
            return False
        try:
            wait_ms = await self._store.take(budget, identity.budget_key, rate)
        except RedisUnavailable as error:
            self._blind(error)
            return False
        if wait_ms:
            refused(budget, wait_ms)
        return True

    def folded(self, identity: Identity, budget: Budget) -> Draw | None:
        """A draw for the operation's own script to take, or None: draw with `take` first
        (the budget is off, the limiter is blind, or the store cannot fold: Redis Cluster)."""
        rate = self._rates.get(budget)
        if rate is None or not self._store.folds or time.monotonic() < self._blind_until:
            return None
        return self._store.draw(budget, identity.budget_key, rate)

    async def settle(
        self, identity: Identity, budget: Budget, draw: Draw, error: BaseException | None
    ) -> bool:
        """After the operation that carried `draw` ended (with `error`, or None): raise
        `RateLimited` when the budget refused, as `take` would have; True when the request
        drew (a 503 then gives it back)."""
        if isinstance(error, BudgetSpent):
            refused(budget, error.wait_ms)
        if draw.state == "taken":
            return True
        if draw.state == "unknown":
            # Redis could not answer: as a failed `take`, blind, and nothing to give back
            # (the refund would wait on the same Redis).
            if isinstance(error, RedisUnavailable):
                self._blind(error)
            return False
        # The operation failed before its script ran (or never ran it): draw now.
        return await self.take(identity, budget)

    async def refund(self, identity: Identity, budget: Budget) -> None:
        """Give back the request `take` drew, for a request that then failed with 503.
        Best effort: when Redis cannot answer now (logged once per outage), the budget
        refills with time as always."""
        rate = self._rates.get(budget)
        if rate is None:
            return
        with contextlib.suppress(RedisUnavailable):
            await self._store.refund(budget, identity.budget_key, rate)

    def _blind(self, error: RedisUnavailable) -> None:
        now = time.monotonic()
        self._blind_until = now + BLIND_SECONDS
        if now - self._blind_logged_at >= BLIND_LOG_SECONDS:
            self._blind_logged_at = now
            log.warning("rate limits not enforced: %s (logged once a minute)", error.message)


def refused(budget: Budget, wait_ms: int) -> None:
    """The one place a request is refused for its rate (the metrics count here)."""
    retry_after = max(1, math.ceil(wait_ms / 1000))
    raise RateLimited(
        f"too many {BY_NAME[budget].counts}; retry after {retry_after} s",
        retry_after=retry_after,
        budget=budget,
    )
