# Generated from client/_async/marker_sync.py by scripts/unasync_client.py: do not edit.
# Edit the async source, then run `python scripts/unasync_client.py`.
"""Marker sync by polling: the seed guide's SyncManager, done right.

The seed posts the whole marker list on every tick and leaves the diffing to each view. Here
the sync keeps the last snapshot and reports only what changed (see `changes.diff`): markers
added, markers updated (a new version, or server-derived fields such as calculated details
that change without one), and markers removed (as last seen). The snapshot advances only
after the callback returns, so a callback that fails sees the same changes again on the next
poll (at-least-once, never lost). Polls never overlap, and a failing poll is logged, kept in
`last_error`, and retried on the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Self
from uuid import UUID

from ...wire import Marker
from .._calls import Id, uid
from .._concurrency import Background, Mutex, notify
from ..changes import ChangeHandler, MarkerChanges, diff
from ..errors import ClientError

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("roboscope.client")


class MarkerSync:
    """A context manager from `client.marker_sync(session_id, on_change, interval=5)`:
    polls in the background while inside."""

    def __init__(
        self,
        client: Client,
        work_session_id: Id,
        on_change: ChangeHandler,
        *,
        interval: float = 5.0,
        initial: Iterable[Marker] = (),
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._client = client
        self.work_session_id = uid(work_session_id)
        self.on_change = on_change
        self.interval = interval
        self._snapshot: dict[UUID, Marker] = {marker.id: marker for marker in initial}
        self.polls = 0
        """Successful polls so far."""
        self.last_synced: datetime | None = None
        self.last_error: BaseException | None = None
        self._polling = Mutex()
        self._background = Background()

    @property
    def markers(self) -> Mapping[UUID, Marker]:
        """The markers as of the last successful poll (read-only)."""
        return MappingProxyType(self._snapshot)

    @property
    def running(self) -> bool:
        return self._background.running

    def __enter__(self) -> Self:
        self.poll()  # the first poll fails loudly and fills the snapshot
        self._background.start(self._poll_forever, f"marker sync {self.work_session_id}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._background.stop()

    def poll(self) -> MarkerChanges:
        """Sync now (the seed's "force sync"): fetch, diff, call back if anything changed."""
        with self._polling:
            markers = self._client.list_markers(work_session_id=self.work_session_id)
            changes = diff(self._snapshot, markers)
            if changes:
                notify(self.on_change, changes)
            self._snapshot = {marker.id: marker for marker in markers}
            self.polls += 1
            self.last_synced = datetime.now(UTC)
            return changes

    def _poll_forever(self) -> None:
        while True:
            if self._background.pause(self.interval):
                return
            try:
                self.poll()
            except Exception as error:  # the next tick retries
                self.last_error = error
                if isinstance(error, ClientError):
                    log.warning("marker sync of %s failed: %s", self.work_session_id, error)
                else:
                    log.exception("marker sync of %s failed", self.work_session_id)
