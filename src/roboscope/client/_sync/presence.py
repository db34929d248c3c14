# Generated from client/_async/presence.py by scripts/unasync_client.py: do not edit.
# Edit the async source, then run `python scripts/unasync_client.py`.
"""Presence that stays up: the iOS guide's PresenceService, done right.

The iOS guide's client beats with a `Timer` and `try?`, so a failing heartbeat is dropped
without a trace, and leaving depends on a view disappearing. Here the first beat must
succeed (so joining fails loudly), later beats run in the background (a task for the async
client, a thread for the blocking one) that logs each failure, records it in `last_error`,
and simply beats again on the next tick (the server re-adds a user whose presence lapsed),
and the session is left on exit, also when the surrounding task is cancelled.
"""

from __future__ import annotations

import logging
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ...wire.presence import PresenceBeat
from .._calls import Id, uid
from .._concurrency import Background, cleanup
from ..errors import ClientError

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("roboscope.client")


class PresenceSession:
    """A context manager from `client.presence(session_id, user_id, interval=10)`: present
    while inside, left on exit."""

    def __init__(
        self,
        client: Client,
        session_id: Id,
        user_id: str,
        *,
        device_id: str | None = None,
        display_name: str | None = None,
        interval: float = 10.0,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._client = client
        self.session_id = uid(session_id)
        self.user_id = user_id
        self.device_id = device_id
        self.display_name = display_name
        self.interval = interval
        self.beats = 0
        """Successful heartbeats so far."""
        self.failures = 0
        """Failed heartbeats so far (each one logged)."""
        self.last_error: BaseException | None = None
        """The most recent failure of a beat or of leaving; kept after later successes."""
        self.last_beat: PresenceBeat | None = None
        """The answer to the last successful beat: this device's expiry and the counts."""
        self._background = Background()
        self._left = False

    def __enter__(self) -> Self:
        self.beat()
        self._background.start(self._beat_forever, f"presence {self.session_id}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave()

    @property
    def running(self) -> bool:
        return self._background.running

    def beat(self) -> PresenceBeat:
        """One heartbeat now; raises on failure (the background loop catches and logs)."""
        answer = self._client.heartbeat(
            self.session_id,
            self.user_id,
            device_id=self.device_id,
            display_name=self.display_name,
        )
        self.last_beat = answer
        self.beats += 1
        return answer

    def users(self) -> list[str]:
        """Who is present right now (asks the server)."""
        return (self._client.list_presence(self.session_id)).users

    def leave(self) -> None:
        """Stop beating and leave; idempotent. A failure is logged and kept in `last_error`
        (the presence then lapses by itself after the server's TTL)."""
        if self._left:
            return
        self._left = True
        self._background.stop()
        error = cleanup(
            lambda: self._client.leave(self.session_id, self.user_id, device_id=self.device_id),
            f"leaving presence of {self.session_id}",
        )
        if error is not None:
            self.last_error = error

    def _beat_forever(self) -> None:
        next_at = monotonic() + self.interval
        while True:
            if self._background.pause(next_at - monotonic()):
                return
            # Ticks missed while a slow beat was in flight are skipped, not bunched up.
            next_at = max(next_at + self.interval, monotonic())
            try:
                self.beat()
            except Exception as error:  # never let the loop die: the next tick retries
                self.failures += 1
                self.last_error = error
                if isinstance(error, ClientError):
                    log.warning("presence heartbeat for %s failed: %s", self.session_id, error)
                else:
                    log.exception("presence heartbeat for %s failed", self.session_id)
