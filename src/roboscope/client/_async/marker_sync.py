"""Marker sync: a work session's markers kept equal to the server's, change by change.

The iOS guide's SyncManager posts the whole list every 30 s and leaves the diffing to each
view. Here the sync loads the list once with the change log cursor it is as of, then follows
the session's live stream from that cursor (`client.events`): every marker change arrives
once, in order, within milliseconds, and the callback gets exactly what changed (`added`,
`updated`, `removed`). A marker's details, which change without a new marker version, update
the marker too. The view advances only after the callback returns, so a callback that fails
sees the same change again (at-least-once, never lost).

When the stream cannot be followed (the server lost the cursor: 410; or it has no stream)
the sync reloads the list and diffs it, and falls back to polling every `interval` seconds
while the stream is unavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Self
from uuid import UUID

import httpx

from ...wire import Marker, MarkerDetails
from .._calls import Id, uid
from .._concurrency import AsyncBackground, AsyncFetch, AsyncMutex, async_notify
from ..changes import AsyncChangeHandler, MarkerChanges, diff
from ..errors import ApiError, ClientError, ReloadRequired
from ..events import Event
from .events import follow_events

if TYPE_CHECKING:
    from .client import AsyncClient

log = logging.getLogger("roboscope.client")

STREAM_PING = 2.0
"""Keep-alive the sync asks of its stream: a dead connection, or a `close()` of the blocking
client, is noticed within about this long."""


class AsyncMarkerSync:
    """A context manager from `client.marker_sync(session_id, on_change)`: keeps `markers`
    equal to the server's while inside, calling `on_change` with each change."""

    def __init__(
        self,
        client: AsyncClient,
        work_session_id: Id,
        on_change: AsyncChangeHandler,
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
        """Seconds between polls while the stream is unavailable."""
        self._snapshot: dict[UUID, Marker] = {marker.id: marker for marker in initial}
        self.cursor: int | None = None
        """The change log cursor `markers` is as of."""
        self.polls = 0
        """Full reloads so far."""
        self.events = 0
        """Stream events applied so far."""
        self.last_synced: datetime | None = None
        self.last_error: BaseException | None = None
        self._syncing = AsyncMutex()
        self._background = AsyncBackground()
        self._stream: httpx.Response | None = None

    @property
    def markers(self) -> Mapping[UUID, Marker]:
        """The markers as the server has them, as of `cursor` (read-only)."""
        return MappingProxyType(self._snapshot)

    @property
    def running(self) -> bool:
        return self._background.running

    async def __aenter__(self) -> Self:
        await self.poll()  # the first load fails loudly and fills the snapshot
        self._background.start(self._follow_forever, f"marker sync {self.work_session_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._background.interrupt(self._close_stream)

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def _connected(self, response: httpx.Response) -> None:
        self._stream = response

    async def poll(self) -> MarkerChanges:
        """Reload now (the iOS guide's "force sync"): fetch the list and its cursor, diff, call
        back if anything changed; the stream then continues from that cursor."""
        async with self._syncing:
            loaded = await self._client.marker_snapshot(self.work_session_id)
            changes = diff(self._snapshot, loaded.markers)
            if changes:
                await async_notify(self.on_change, changes)
            self._snapshot = {marker.id: marker for marker in loaded.markers}
            self.cursor = loaded.cursor
            self.polls += 1
            self.last_synced = datetime.now(UTC)
            return changes

    async def _follow_forever(self) -> None:
        while not self._background.stopping:
            try:
                async for event in follow_events(
                    self._client.http,
                    self.work_session_id,
                    since=self.cursor,
                    ping=STREAM_PING,
                    on_connect=self._connected,
                    stopped=lambda: self._background.stopping,
                ):
                    await self._apply(event)
                return  # the session was deleted: nothing more will change
            except ReloadRequired:
                await self._recover(self.poll)
            except ApiError as error:  # a server without a stream: poll instead
                log.warning("marker sync of %s polls: %s", self.work_session_id, error)
                self.last_error = error
                if await self._background.pause(self.interval):
                    return
                await self._recover(self.poll)
            except Exception as error:  # a failing callback: the change comes again
                self.last_error = error
                log.exception("marker sync of %s failed", self.work_session_id)
                if await self._background.pause(self.interval):
                    return

    async def _recover(self, step: AsyncFetch[object]) -> None:
        try:
            await step()
        except Exception as error:  # the next round retries
            self.last_error = error
            if isinstance(error, ClientError):
                log.warning("marker sync of %s failed: %s", self.work_session_id, error)
            else:
                log.exception("marker sync of %s failed", self.work_session_id)

    async def _apply(self, event: Event) -> None:
        """One stream event into the view, the callback told first (if it raises, the view
        and the cursor stay, and the event comes again after the resume)."""
        async with self._syncing:
            if event.cursor is None or (self.cursor is not None and event.cursor <= self.cursor):
                return  # presence and locks, or what the snapshot already holds
            changes = _change_of(self._snapshot, event)
            if changes:
                await async_notify(self.on_change, changes)
                for marker in (*changes.added, *changes.updated):
                    self._snapshot[marker.id] = marker
                for marker in changes.removed:
                    self._snapshot.pop(marker.id, None)
            self.cursor = event.cursor
            self.events += 1
            self.last_synced = datetime.now(UTC)


def _change_of(view: Mapping[UUID, Marker], event: Event) -> MarkerChanges:
    """What a data event changes in a session's marker view."""
    if event.name == "marker.created" or event.name == "marker.updated":
        marker: Marker = event.data
        old = view.get(marker.id)
        return MarkerChanges(added=(marker,)) if old is None else MarkerChanges(updated=(marker,))
    if event.name == "marker.deleted":
        gone = view.get(UUID(event.data["id"]))
        return MarkerChanges(removed=(gone,)) if gone else MarkerChanges()
    if event.kind == "details":  # details change without a new marker version
        details = event.data if isinstance(event.data, MarkerDetails) else None
        old = view.get(details.marker_id if details else UUID(event.data["marker_id"]))
        if old is None:
            return MarkerChanges()
        return MarkerChanges(updated=(old.model_copy(update={"details": details}),))
    if event.name == "work_session.deleted":
        return MarkerChanges(removed=tuple(view.values()))
    return MarkerChanges()
