"""Redis outages, logged once: one warning when Redis stops serving, one line when it is back.

A 3 s outage fails hundreds of calls: requests, sweeper rounds, lock undos retrying, the live
channel reconnecting. A line for each buries the one fact an operator needs. So every call
reports to the tracker of its client (`connection.guard`), and the log gets one warning at
the first failure and one info line when Redis answers again, with what failed meanwhile,
counted by reason, and what the stores noted (e.g. lock acquires undone). The failures are
also counted in `roboscope_redis_errors_total`.

The outage ends at the first answer that comes at least `QUIET_SECONDS` after the last
failure. A Redis that refuses writes but still answers reads (out of memory), and calls that
stalled during the outage and time out just after it, so make one outage, not many.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from roboscope.metrics import REDIS_ERRORS

log = logging.getLogger("roboscope.redis")

QUIET_SECONDS = 1.0


class Outages:
    """The outage state of one Redis client (one connection pool) in this process."""

    def __init__(self) -> None:
        self._started: float | None = None
        self._last_failure = 0.0
        self._failures: Counter[str] = Counter()
        self._notes: Counter[str] = Counter()

    @property
    def down(self) -> bool:
        """An outage has started and not ended yet."""
        return self._started is not None

    @property
    def failed_calls(self) -> int:
        """Calls failed in the current outage (0 outside one)."""
        return sum(self._failures.values())

    def failed(self, reason: str) -> None:
        """A call failed because Redis cannot serve it now (`RedisUnavailable.reason`)."""
        REDIS_ERRORS.inc()
        now = time.monotonic()
        if self._started is None:
            self._started = now
            log.warning(
                "redis is unavailable (%s): presence, locks and fenced writes get 503 "
                "until it answers again",
                reason,
            )
        self._last_failure = now
        self._failures[reason] += 1

    def answered(self) -> None:
        """A call got its answer (on every call: cheap while nothing is wrong)."""
        if self._started is not None and time.monotonic() - self._last_failure >= QUIET_SECONDS:
            self._end()

    def note(self, what: str) -> None:
        """Count `what` (a plural noun phrase) into the current outage's closing line; a
        note outside an outage is dropped."""
        if self._started is not None:
            self._notes[what] += 1

    def _end(self) -> None:
        assert self._started is not None
        lasted = self._last_failure - self._started
        failed = self.failed_calls
        reasons = ", ".join(f"{count} {reason}" for reason, count in self._failures.most_common())
        notes = "".join(f"; {count} {what}" for what, count in self._notes.most_common())
        log.info(
            "redis answers again: %d calls failed in %.1f s (%s)%s",
            failed,
            lasted,
            reasons,
            notes,
            extra={"outage_seconds": round(lasted, 1), "failed_calls": failed},
        )
        self._started = None
        self._failures.clear()
        self._notes.clear()
