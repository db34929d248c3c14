"""A request's draw on its caller's rate budget, taken by the script of the request's own
operation: one Redis round trip for a heartbeat or a lock operation instead of two.

The budget's key is the caller's, not the work session's, so in a Redis Cluster it lives in
another slot than the operation's keys and cannot join its script: there (and whenever the
limiter does not fold, services/limits.py) the budget is drawn by a call of its own first,
as before. The script takes the draw first and runs the operation only when the budget
allows it (realtime/lua/drawn.lua): a refused request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DrawState = Literal["pending", "taken", "refused", "unknown"]


class BudgetSpent(Exception):
    """The budget refused the draw; the operation did not run."""

    def __init__(self, wait_ms: int) -> None:
        super().__init__(f"budget spent for {wait_ms} ms")
        self.wait_ms = wait_ms


@dataclass(slots=True)
class Draw:
    key: str
    """The caller's budget key (keys.rate_budget)."""
    interval_ms: float
    burst: int
    state: DrawState = "pending"
    """pending: no script carried it yet; unknown: the call that carried it failed (Redis
    could not answer: it may or may not have drawn)."""

    @property
    def args(self) -> tuple[str, int]:
        """Its ARGV after the operation's (drawn.lua)."""
        return repr(self.interval_ms), self.burst

    def outcome(self, reply: Any) -> Any:
        """The operation's answer from the drawn script's reply; `BudgetSpent` when the
        budget refused (then the operation did not run)."""
        allowed, *answer = reply
        if int(allowed) != 1:
            self.state = "refused"
            raise BudgetSpent(max(1, int(answer[0])))
        self.state = "taken"
        return answer[0] if answer else None  # a nil answer ends Redis's array
