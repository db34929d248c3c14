"""The per-caller rate budgets, described once: every other place derives from `BUDGETS`.

A budget has a name (the `budget` of a 429 body), what it counts (the 429 message says "too
many <counts>"), the routes that draw on it (by their path under the API prefix), and the
default of its two settings, `ROBOSCOPE_RATE_LIMIT_<NAME>_PER_SECOND` and `…_BURST`. From
this table: the settings' defaults and help (settings.py), which budget a request draws on
(server/limits.py), the rates the limiter is built with (server/state.py), the 429's message
(services/limits.py), the wire's `budget` values (wire/errors.py), the benchmark's budgets
(bench/server.py); the tables of docs/limits.md and README.md are checked against it
(tests/api/test_rate_limits.py).

Adding a budget: a row here, its name in `Budget`, and its two fields in settings.py (typed
attributes, so the environment names stay greppable; a test fails on one that is missing).
The rules (what a refusal does, fail-open, refunds) are in services/limits.py.

This module imports nothing of the app, so every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Budget = Literal["heartbeats", "locks", "writes"]
"""The budgets' names, for the type checker (the same as `BUDGETS`' names, checked below)."""


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    name: Budget
    counts: str
    """What one request of it is, in the plural: "too many {counts}" in the 429."""
    routes: str | None
    """The route path prefix (under the API prefix) of the writes that draw on it; None:
    every other write (`POST`, `PUT`, `PATCH`, `DELETE`). Reads never draw."""
    per_second: float
    """The default of `ROBOSCOPE_RATE_LIMIT_<NAME>_PER_SECOND` (0 turns the budget off)."""
    burst: int
    """The default of `ROBOSCOPE_RATE_LIMIT_<NAME>_BURST`."""
    per_second_help: str
    burst_help: str

    @property
    def setting(self) -> str:
        """The settings' field names start with this (`rate_limit_heartbeats`)."""
        return f"rate_limit_{self.name}"


BUDGETS: tuple[BudgetSpec, ...] = (
    BudgetSpec(
        name="heartbeats",
        counts="presence requests",
        routes="/presence/",
        per_second=50.0,
        burst=200,
        per_second_help="Presence heartbeats and leaves per caller and second, sustained; "
        "0: no limit.",
        burst_help="Heartbeats a caller may send at once after a pause.",
    ),
    BudgetSpec(
        name="locks",
        counts="lock requests",
        routes="/locks/",
        per_second=25.0,
        burst=100,
        per_second_help="Lock acquires, extends and releases per caller and second; 0: no limit.",
        burst_help="Lock operations a caller may send at once after a pause.",
    ),
    BudgetSpec(
        name="writes",
        counts="writes",
        routes=None,
        per_second=50.0,
        burst=500,
        per_second_help="Other writes (POST, PUT, PATCH, DELETE) per caller and second; "
        "0: no limit.",
        burst_help="Writes a caller may send at once after a pause.",
    ),
)

BY_NAME: dict[Budget, BudgetSpec] = {spec.name: spec for spec in BUDGETS}
ROUTED: tuple[BudgetSpec, ...] = tuple(spec for spec in BUDGETS if spec.routes is not None)
"""The budgets of some routes, in the order a request's path is matched against them."""
OTHER_WRITES: Budget = next(spec.name for spec in BUDGETS if spec.routes is None)
"""The budget every other write draws on."""

# A maintainer's slip shows at import, not in a 429 body.
if tuple(BY_NAME) != get_args(Budget):  # pragma: no cover
    raise RuntimeError("rate_budgets: `Budget` must name the budgets of `BUDGETS`, in order")
if len(BUDGETS) - len(ROUTED) != 1:  # pragma: no cover
    raise RuntimeError("rate_budgets: exactly one budget takes every other write")
