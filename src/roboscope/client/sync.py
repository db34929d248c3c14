"""Marker sync by polling: the seed guide's SyncManager, done right.

The seed posts the whole marker list on every tick and leaves the diffing to each view. Here
`MarkerSync` keeps the last snapshot and reports only what changed: markers added, markers
updated (a new version, or server-derived fields such as calculated details that change
without one), and markers removed (as last seen). The snapshot advances only after the
callback returns, so a callback that fails sees the same changes again on the next poll
(at-least-once, never lost). Polls never overlap, and a failing poll is logged, kept in
`last_error`, and retried on the next tick.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Self
from uuid import UUID

from ..wire import Marker
from ._calls import Id, uid
from ._tasks import Background
from .errors import ClientError

if TYPE_CHECKING:
    from ._async import AsyncClient

log = logging.getLogger("roboscope.client")


@dataclass(frozen=True, slots=True)
class MarkerChanges:
    added: tuple[Marker, ...] = ()
    updated: tuple[Marker, ...] = ()
    removed: tuple[Marker, ...] = ()
    """As last seen before they disappeared."""

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


ChangeHandler = Callable[[MarkerChanges], Awaitable[None] | None]


def diff(before: Mapping[UUID, Marker], after: Iterable[Marker]) -> MarkerChanges:
    """What changed from `before` to the list `after` (in the server's order)."""
    seen: set[UUID] = set()
    added: list[Marker] = []
    updated: list[Marker] = []
    for marker in after:
        seen.add(marker.id)
        old = before.get(marker.id)
        if old is None:
            added.append(marker)
        elif old.version != marker.version or old != marker:
            updated.append(marker)
    removed = [marker for marker_id, marker in before.items() if marker_id not in seen]
    return MarkerChanges(tuple(added), tuple(updated), tuple(removed))


class MarkerSync:
    """`async with client.marker_sync(session_id, on_change, interval=5) as sync:`."""

    def __init__(
        self,
        client: AsyncClient,
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
        self._polling = asyncio.Lock()
        self._background = Background()

    @property
    def markers(self) -> Mapping[UUID, Marker]:
        """The markers as of the last successful poll (read-only)."""
        return MappingProxyType(self._snapshot)

    async def __aenter__(self) -> Self:
        await self.poll()  # the first poll fails loudly and fills the snapshot
        self._background.start(self._poll_forever(), f"marker sync {self.work_session_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._background.stop()

    async def poll(self) -> MarkerChanges:
        """Sync now (the seed's "force sync"): fetch, diff, call back if anything changed."""
        async with self._polling:
            markers = await self._client.list_markers(work_session_id=self.work_session_id)
            changes = diff(self._snapshot, markers)
            if changes:
                outcome = self.on_change(changes)
                if inspect.isawaitable(outcome):
                    await outcome
            self._snapshot = {marker.id: marker for marker in markers}
            self.polls += 1
            self.last_synced = datetime.now(UTC)
            return changes

    async def _poll_forever(self) -> None:
        while True:
            if await self._background.pause(self.interval):
                return
            try:
                await self.poll()
            except Exception as error:  # the next tick retries
                self.last_error = error
                if isinstance(error, ClientError):
                    log.warning("marker sync of %s failed: %s", self.work_session_id, error)
                else:
                    log.exception("marker sync of %s failed", self.work_session_id)
