# Generated from client/_async/client.py by scripts/unasync_client.py: do not edit.
# Edit the async source, then run `python scripts/unasync_client.py`.
"""The client: one method per API operation, plus the collaborative behaviours."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Self, TypeVar

import httpx

from ...wire import (
    Anchor,
    AnchorUpdate,
    AnchorUpsert,
    Health,
    LaserGuide,
    LaserGuidePut,
    Marker,
    MarkerBulkCreate,
    MarkerCreate,
    MarkerDetails,
    MarkerDetailsPut,
    MarkerUpdate,
    ReferenceSet,
    ReferenceSetCreate,
    ReferenceSetUpdate,
    SessionType,
    Space,
    SpaceCreate,
    SpaceUpdate,
    WorkSession,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)
from ...wire.changes import ChangePage
from ...wire.common import JsonObject
from ...wire.locks import (
    LockAcquire,
    LockExtend,
    LockExtension,
    LockGrant,
    LockRelease,
    LockReleased,
    LockStatus,
)
from ...wire.presence import PresenceBeat, PresenceHeartbeat, PresenceList
from ...wire.tokens import (
    ApiToken,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenRevoked,
    Caller,
    Scope,
    StreamToken,
)
from .. import _calls as calls
from .._base import DEFAULT_TIMEOUT, DEFAULT_URL, HEADERS, LIMITS, api_url
from .._calls import Call, Id, Page, finish, unreachable
from ..changes import ChangeHandler
from ..events import Event, MarkerSnapshot
from .events import follow_events
from .locks import HeldLock
from .marker_sync import MarkerSync
from .presence import PresenceSession
from .retry import update_with_retry_sync

T = TypeVar("T")


class Client:
    """The Roboscope API over httpx (`AsyncClient`, and its blocking twin `Client`).

    `url` is the server (`http://127.0.0.1:8080`); `/api/v1` is appended. `transport=` takes
    an httpx transport of the client's flavour (`httpx.ASGITransport(app=app)` talks to an
    app in-process). `token=` is an API token (`roboscope tokens create`), sent as
    `Authorization: Bearer …` on every request, the live stream's included; a server with
    ROBOSCOPE_AUTH=required answers without one `Unauthorized`. Errors raise
    `roboscope.client.ApiError` subclasses; network failures raise `ConnectionFailed`;
    inputs are validated by the wire models before sending (pydantic's `ValidationError`).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        auth = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._http = httpx.Client(
            base_url=api_url(url),
            headers={**HEADERS, **auth, **(headers or {})},
            timeout=timeout,
            transport=transport,
            limits=LIMITS,
        )

    @property
    def http(self) -> httpx.Client:
        """The httpx client underneath (its base URL is the API's `/api/v1`)."""
        return self._http

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        """Execute one described call; every answer goes through `raise_for_error`."""
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.body,
                headers=call.headers,
            )
        except httpx.TransportError as error:
            raise unreachable(self.base_url, call, error) from error
        return finish(call, response)

    # Health

    def health(self) -> Health:
        return self._send(calls.health())

    # Spaces

    def list_spaces(self, *, key: str | None = None, include_inactive: bool = False) -> list[Space]:
        return self._send(calls.list_spaces(key, include_inactive))

    def list_spaces_page(
        self,
        *,
        key: str | None = None,
        include_inactive: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Space]:
        """At most `limit` spaces, after `cursor` (a previous page's `next_cursor`)."""
        return self._send(calls.page_spaces(key, include_inactive, limit, cursor))

    def create_space(self, body: SpaceCreate) -> Space:
        return self._send(calls.create_space(body))

    def get_space(self, space_id: Id) -> Space:
        return self._send(calls.get_space(space_id))

    def update_space(self, space_id: Id, body: SpaceUpdate) -> Space:
        return self._send(calls.update_space(space_id, body))

    def delete_space(self, space_id: Id) -> None:
        self._send(calls.delete_space(space_id))

    # Work sessions

    def list_work_sessions(
        self,
        *,
        space_id: Id | None = None,
        status: WorkSessionStatus | None = None,
        session_type: SessionType | None = None,
    ) -> list[WorkSession]:
        return self._send(calls.list_work_sessions(space_id, status, session_type))

    def list_work_sessions_page(
        self,
        *,
        space_id: Id | None = None,
        status: WorkSessionStatus | None = None,
        session_type: SessionType | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[WorkSession]:
        """At most `limit` work sessions, after `cursor` (a previous page's `next_cursor`)."""
        return self._send(calls.page_work_sessions(space_id, status, session_type, limit, cursor))

    def create_work_session(self, body: WorkSessionCreate) -> WorkSession:
        return self._send(calls.create_work_session(body))

    def get_work_session(self, session_id: Id) -> WorkSession:
        return self._send(calls.get_work_session(session_id))

    def update_work_session(
        self, session_id: Id, body: WorkSessionUpdate, *, lock_token: str | None = None
    ) -> WorkSession:
        return self._send(calls.update_work_session(session_id, body, lock_token))

    def delete_work_session(self, session_id: Id, *, lock_token: str | None = None) -> None:
        self._send(calls.delete_work_session(session_id, lock_token))

    def update_work_session_with_retry(
        self,
        session_id: Id,
        mutate: Callable[[WorkSession], WorkSessionUpdate | None],
        *,
        lock_token: str | None = None,
        max_attempts: int = 5,
    ) -> WorkSession:
        """Refresh, apply `mutate`, PATCH with the fresh version; retry on 409 (see
        `update_with_retry`)."""
        return update_with_retry_sync(
            lambda: self.get_work_session(session_id),
            lambda patch: self.update_work_session(session_id, patch, lock_token=lock_token),
            mutate,
            max_attempts=max_attempts,
        )

    # Markers

    def list_markers(self, *, work_session_id: Id | None = None) -> list[Marker]:
        return self._send(calls.list_markers(work_session_id))

    def list_markers_page(
        self, *, work_session_id: Id | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[Marker]:
        """At most `limit` markers, after `cursor` (a previous page's `next_cursor`)."""
        return self._send(calls.page_markers(work_session_id, limit, cursor))

    def create_marker(self, body: MarkerCreate, *, lock_token: str | None = None) -> Marker:
        return self._send(calls.create_marker(body, lock_token))

    def create_markers(
        self, markers: Iterable[MarkerCreate], *, lock_token: str | None = None
    ) -> list[Marker]:
        """`POST /markers/bulk`: all or none, answered in request order."""
        body = MarkerBulkCreate(markers=list(markers))
        return self._send(calls.create_markers(body, lock_token))

    def get_marker(self, marker_id: Id) -> Marker:
        return self._send(calls.get_marker(marker_id))

    def update_marker(
        self, marker_id: Id, body: MarkerUpdate, *, lock_token: str | None = None
    ) -> Marker:
        return self._send(calls.update_marker(marker_id, body, lock_token))

    def delete_marker(self, marker_id: Id, *, lock_token: str | None = None) -> None:
        self._send(calls.delete_marker(marker_id, lock_token))

    def update_marker_with_retry(
        self,
        marker_id: Id,
        mutate: Callable[[Marker], MarkerUpdate | None],
        *,
        lock_token: str | None = None,
        max_attempts: int = 5,
    ) -> Marker:
        """Refresh, apply `mutate`, PATCH with the fresh version; retry on 409 (see
        `update_with_retry`)."""
        return update_with_retry_sync(
            lambda: self.get_marker(marker_id),
            lambda patch: self.update_marker(marker_id, patch, lock_token=lock_token),
            mutate,
            max_attempts=max_attempts,
        )

    # Marker details

    def get_marker_details(self, marker_id: Id) -> MarkerDetails:
        """Raises `NotFound` until the details were calculated or stored."""
        return self._send(calls.get_marker_details(marker_id))

    def calculate_marker_details(self, marker_id: Id) -> MarkerDetails:
        return self._send(calls.calculate_marker_details(marker_id))

    def put_marker_details(self, marker_id: Id, body: MarkerDetailsPut) -> MarkerDetails:
        return self._send(calls.put_marker_details(marker_id, body))

    def delete_marker_details(self, marker_id: Id) -> None:
        self._send(calls.delete_marker_details(marker_id))

    # Anchors

    def list_anchors(self, *, session_id: Id | None = None) -> list[Anchor]:
        return self._send(calls.list_anchors(session_id))

    def upsert_anchor(self, body: AnchorUpsert) -> Anchor:
        """Creates or moves the anchor of (session_id, run, local_z)."""
        return self._send(calls.upsert_anchor(body))

    def get_anchor(self, anchor_id: Id) -> Anchor:
        return self._send(calls.get_anchor(anchor_id))

    def update_anchor(self, anchor_id: Id, body: AnchorUpdate) -> Anchor:
        return self._send(calls.update_anchor(anchor_id, body))

    def delete_anchor(self, anchor_id: Id) -> None:
        self._send(calls.delete_anchor(anchor_id))

    # Laser guides

    def get_laser_guide(self, space_id: Id) -> LaserGuide:
        """Raises `NotFound` when the space has no guide."""
        return self._send(calls.get_laser_guide(space_id))

    def put_laser_guide(self, space_id: Id, body: LaserGuidePut) -> LaserGuide:
        return self._send(calls.put_laser_guide(space_id, body))

    def delete_laser_guide(self, space_id: Id) -> None:
        self._send(calls.delete_laser_guide(space_id))

    # Reference sets

    def list_reference_sets(self, space_id: Id) -> list[ReferenceSet]:
        return self._send(calls.list_reference_sets(space_id))

    def create_reference_set(self, space_id: Id, body: ReferenceSetCreate) -> ReferenceSet:
        return self._send(calls.create_reference_set(space_id, body))

    def get_reference_set(self, set_id: Id) -> ReferenceSet:
        return self._send(calls.get_reference_set(set_id))

    def update_reference_set(self, set_id: Id, body: ReferenceSetUpdate) -> ReferenceSet:
        return self._send(calls.update_reference_set(set_id, body))

    def delete_reference_set(self, set_id: Id) -> None:
        self._send(calls.delete_reference_set(set_id))

    # Presence

    def heartbeat(
        self,
        session_id: Id,
        user_id: str,
        *,
        device_id: str | None = None,
        display_name: str | None = None,
        meta: JsonObject | None = None,
    ) -> PresenceBeat:
        """One beat; answers who is present. `presence()` keeps beating."""
        body = PresenceHeartbeat(
            user_id=user_id, device_id=device_id, display_name=display_name, meta=meta
        )
        return self._send(calls.heartbeat(session_id, body))

    def list_presence(self, session_id: Id) -> PresenceList:
        return self._send(calls.presence(session_id))

    def leave(self, session_id: Id, user_id: str, *, device_id: str | None = None) -> PresenceList:
        return self._send(calls.leave(session_id, user_id, device_id))

    def presence(
        self,
        session_id: Id,
        user_id: str,
        *,
        device_id: str | None = None,
        display_name: str | None = None,
        interval: float = 10.0,
    ) -> PresenceSession:
        """A context manager that beats every `interval` seconds in the background while
        inside and leaves on exit (see docs/sdk.md)."""
        return PresenceSession(
            self,
            session_id,
            user_id,
            device_id=device_id,
            display_name=display_name,
            interval=interval,
        )

    # Locks (the seed guide's routes)

    def acquire_lock(
        self, session_id: Id, ttl_seconds: int | None = None, *, owner: str | None = None
    ) -> LockGrant:
        """Contention is `acquired=False` (not an exception); see `hold_lock`."""
        body = LockAcquire(ttl_seconds=ttl_seconds, owner=owner)
        return self._send(calls.acquire_lock(session_id, body))

    def lock_status(self, session_id: Id) -> LockStatus:
        return self._send(calls.lock_status(session_id))

    def extend_lock(
        self, session_id: Id, token: str, ttl_seconds: int | None = None
    ) -> LockExtension:
        body = LockExtend(token=token, ttl_seconds=ttl_seconds)
        return self._send(calls.extend_lock(session_id, body))

    def release_lock(self, session_id: Id, token: str) -> LockReleased:
        return self._send(calls.release_lock(session_id, LockRelease(token=token)))

    def force_release_lock(self, session_id: Id) -> LockReleased:
        """Admin scope: free the lock whoever holds it; its holder's writes get 423."""
        return self._send(calls.force_release_lock(session_id))

    def whoami(self) -> Caller:
        """Who the server takes this client for: its token (never the secret), scope and
        user; `Unauthorized` says why a token is refused."""
        return self._send(calls.whoami())

    def list_tokens(self) -> list[ApiToken]:
        """Admin scope: every API token, never a secret."""
        return self._send(calls.list_tokens())

    def create_token(
        self,
        name: str,
        *,
        user_id: str | None = None,
        scope: Scope = "write",
        expires_in: str | None = None,
    ) -> ApiTokenCreated:
        """Admin scope: a new token; its `token` (the secret) is shown this once."""
        body = ApiTokenCreate(name=name, user_id=user_id, scope=scope, expires_in=expires_in)
        return self._send(calls.create_token(body))

    def revoke_token(self, name_or_id: str) -> ApiTokenRevoked:
        """Admin scope: every server process confirms, then the token is refused everywhere
        and its live streams end; `propagation` names any process that did not confirm."""
        return self._send(calls.revoke_token(name_or_id))

    def stream_token(self, session_id: Id) -> StreamToken:
        """A 60-second `?access_token=` for the session's live stream, for clients that
        cannot send headers (browsers' `EventSource`)."""
        return self._send(calls.stream_token(session_id))

    def hold_lock(
        self,
        session_id: Id,
        ttl_seconds: int = 30,
        *,
        owner: str | None = None,
        extend_every: float | None = None,
    ) -> HeldLock:
        """A context manager that acquires the lock (or raises `LockUnavailable`), extends it
        every `extend_every` seconds (half the TTL by default) and releases it on exit."""
        return HeldLock(
            self, session_id, ttl_seconds=ttl_seconds, owner=owner, extend_every=extend_every
        )

    # Changes and live events

    def marker_snapshot(self, work_session_id: Id) -> MarkerSnapshot:
        """The session's markers and the change log cursor they are as of: load this, then
        follow `events(session_id, since=snapshot.cursor)` (see docs/live.md)."""
        return self._send(calls.marker_snapshot(work_session_id))

    def session_changes(
        self, work_session_id: Id, *, since: int | None = None, limit: int | None = None
    ) -> ChangePage:
        """The session's changes after `since`, in order, and the cursor to ask from next
        (`ReloadRequired` when `since` is older than the kept log)."""
        return self._send(calls.session_changes(work_session_id, since, limit))

    def list_events(
        self,
        *,
        since: int | None = None,
        limit: int | None = None,
        entity: str | None = None,
        entity_id: Id | None = None,
        work_session_id: Id | None = None,
        space_id: Id | None = None,
    ) -> ChangePage:
        """One page of the audit trail (every recorded create, update and delete)."""
        return self._send(
            calls.list_events(since, limit, entity, entity_id, work_session_id, space_id)
        )

    def events(
        self,
        work_session_id: Id,
        *,
        since: int | None = None,
        ping: float | None = None,
        wait_for_server: bool = True,
    ) -> Iterator[Event]:
        """The session's live events: `presence.snapshot` and `lock.snapshot`, the changes
        after `since` (None: none before now), then live events; resumed by itself after a
        drop with `Last-Event-ID` and backoff. Raises `ReloadRequired` (410) when `since` is
        older than the kept log, `NotFound` for an unknown session; ends after
        `work_session.deleted`. With `wait_for_server=False` a first connection that fails
        raises (`ConnectionFailed`, `Unavailable`) instead of being retried."""
        return follow_events(
            self._http,
            work_session_id,
            since=since,
            ping=ping,
            wait_for_server=wait_for_server,
        )

    # Sync

    def marker_sync(
        self,
        work_session_id: Id,
        on_change: ChangeHandler,
        *,
        interval: float = 5.0,
        initial: Iterable[Marker] = (),
    ) -> MarkerSync:
        """A context manager that keeps the session's markers in sync while inside (a
        snapshot, then the live stream; polling every `interval` seconds only while the
        stream is unavailable) and calls `on_change` with each change."""
        return MarkerSync(self, work_session_id, on_change, interval=interval, initial=initial)
