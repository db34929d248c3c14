# Generated from client/operations/ by scripts/unasync_client.py: do not edit.
# Edit the descriptions there, then run `python scripts/unasync_client.py`.
"""The API's operations, a method each, as client/operations/ describes them.

Each method imports its description when first called, and the types are imported
for type checkers only: a program loads the descriptions (and wire models) of the
operations it uses, no others."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, TypeVar

from .._calls import Call

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ...wire import (
        Anchor,
        AnchorUpdate,
        AnchorUpsert,
        Health,
        LaserGuide,
        LaserGuidePut,
        Marker,
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
    from ...wire.locks import LockExtension, LockGrant, LockReleased, LockStatus
    from ...wire.presence import PresenceBeat, PresenceList
    from ...wire.tokens import (
        ApiToken,
        ApiTokenCreated,
        ApiTokenRevoked,
        Caller,
        Scope,
        StreamToken,
    )
    from .._calls import Id, Page
    from ..events import MarkerSnapshot

T = TypeVar("T")


class AsyncOperations(ABC):
    """One method per API operation; the client sends the calls they make."""

    @abstractmethod
    async def _send(self, call: Call[T]) -> T:
        """Execute one described call."""

    async def health(self) -> Health:
        from ..operations import realtime

        return await self._send(realtime.health.call())

    async def whoami(self) -> Caller:
        """Who the server takes this client for: its token (never the secret), scope and user;
        `Unauthorized` says why a token is refused."""
        from ..operations import realtime

        return await self._send(realtime.whoami.call())

    async def heartbeat(
        self,
        session_id: Id,
        user_id: str,
        *,
        device_id: str | None = None,
        display_name: str | None = None,
        meta: JsonObject | None = None,
    ) -> PresenceBeat:
        """One beat; answers who is present. `presence()` keeps beating."""
        from ..operations import realtime

        return await self._send(
            realtime.heartbeat.call(
                session_id=session_id,
                user_id=user_id,
                device_id=device_id,
                display_name=display_name,
                meta=meta,
            )
        )

    async def list_presence(self, session_id: Id) -> PresenceList:
        from ..operations import realtime

        return await self._send(realtime.list_presence.call(session_id=session_id))

    async def leave(
        self, session_id: Id, user_id: str, *, device_id: str | None = None
    ) -> PresenceList:
        from ..operations import realtime

        return await self._send(
            realtime.leave.call(session_id=session_id, user_id=user_id, device_id=device_id)
        )

    async def acquire_lock(
        self, session_id: Id, ttl_seconds: int | None = None, *, owner: str | None = None
    ) -> LockGrant:
        """Contention is `acquired=False` (not an exception); see `hold_lock`."""
        from ..operations import realtime

        return await self._send(
            realtime.acquire_lock.call(session_id=session_id, ttl_seconds=ttl_seconds, owner=owner)
        )

    async def lock_status(self, session_id: Id) -> LockStatus:
        from ..operations import realtime

        return await self._send(realtime.lock_status.call(session_id=session_id))

    async def extend_lock(
        self, session_id: Id, token: str, ttl_seconds: int | None = None
    ) -> LockExtension:
        from ..operations import realtime

        return await self._send(
            realtime.extend_lock.call(session_id=session_id, token=token, ttl_seconds=ttl_seconds)
        )

    async def release_lock(self, session_id: Id, token: str) -> LockReleased:
        from ..operations import realtime

        return await self._send(realtime.release_lock.call(session_id=session_id, token=token))

    async def force_release_lock(self, session_id: Id) -> LockReleased:
        """Admin scope: free the lock whoever holds it; its holder's writes get 423."""
        from ..operations import realtime

        return await self._send(realtime.force_release_lock.call(session_id=session_id))

    async def list_tokens(self) -> list[ApiToken]:
        """Admin scope: every API token, never a secret."""
        from ..operations import realtime

        return await self._send(realtime.list_tokens.call())

    async def create_token(
        self,
        name: str,
        *,
        user_id: str | None = None,
        scope: Scope = "write",
        expires_in: str | None = None,
    ) -> ApiTokenCreated:
        """Admin scope: a new token; its `token` (the secret) is shown this once."""
        from ..operations import realtime

        return await self._send(
            realtime.create_token.call(
                name=name, user_id=user_id, scope=scope, expires_in=expires_in
            )
        )

    async def revoke_token(self, name_or_id: str) -> ApiTokenRevoked:
        """Admin scope: every server process confirms, then the token is refused everywhere and its
        live streams end; `propagation` names any process that did not confirm."""
        from ..operations import realtime

        return await self._send(realtime.revoke_token.call(name_or_id=name_or_id))

    async def stream_token(self, session_id: Id) -> StreamToken:
        """A 60-second `?access_token=` for the session's live stream, for clients that cannot send
        headers (browsers' `EventSource`)."""
        from ..operations import realtime

        return await self._send(realtime.stream_token.call(session_id=session_id))

    async def session_changes(
        self, work_session_id: Id, *, since: int | None = None, limit: int | None = None
    ) -> ChangePage:
        """The session's changes after `since`, in order, and the cursor to ask from next
        (`ReloadRequired` when `since` is older than the kept log)."""
        from ..operations import realtime

        return await self._send(
            realtime.session_changes.call(work_session_id=work_session_id, since=since, limit=limit)
        )

    async def list_events(
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
        from ..operations import realtime

        return await self._send(
            realtime.list_events.call(
                since=since,
                limit=limit,
                entity=entity,
                entity_id=entity_id,
                work_session_id=work_session_id,
                space_id=space_id,
            )
        )

    async def list_spaces(
        self, *, key: str | None = None, include_inactive: bool = False
    ) -> list[Space]:
        from ..operations import resources

        return await self._send(
            resources.list_spaces.call(key=key, include_inactive=include_inactive)
        )

    async def list_spaces_page(
        self,
        *,
        key: str | None = None,
        include_inactive: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Space]:
        """At most `limit` spaces, after `cursor` (a previous page's `next_cursor`)."""
        from ..operations import resources

        return await self._send(
            resources.list_spaces_page.call(
                key=key, include_inactive=include_inactive, limit=limit, cursor=cursor
            )
        )

    async def create_space(self, body: SpaceCreate) -> Space:
        from ..operations import resources

        return await self._send(resources.create_space.call(body=body))

    async def get_space(self, space_id: Id) -> Space:
        from ..operations import resources

        return await self._send(resources.get_space.call(space_id=space_id))

    async def update_space(self, space_id: Id, body: SpaceUpdate) -> Space:
        from ..operations import resources

        return await self._send(resources.update_space.call(space_id=space_id, body=body))

    async def delete_space(self, space_id: Id) -> None:
        from ..operations import resources

        await self._send(resources.delete_space.call(space_id=space_id))

    async def list_work_sessions(
        self,
        *,
        space_id: Id | None = None,
        status: WorkSessionStatus | None = None,
        session_type: SessionType | None = None,
    ) -> list[WorkSession]:
        from ..operations import resources

        return await self._send(
            resources.list_work_sessions.call(
                space_id=space_id, status=status, session_type=session_type
            )
        )

    async def list_work_sessions_page(
        self,
        *,
        space_id: Id | None = None,
        status: WorkSessionStatus | None = None,
        session_type: SessionType | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[WorkSession]:
        """At most `limit` work sessions, after `cursor` (a previous page's `next_cursor`)."""
        from ..operations import resources

        return await self._send(
            resources.list_work_sessions_page.call(
                space_id=space_id,
                status=status,
                session_type=session_type,
                limit=limit,
                cursor=cursor,
            )
        )

    async def create_work_session(self, body: WorkSessionCreate) -> WorkSession:
        from ..operations import resources

        return await self._send(resources.create_work_session.call(body=body))

    async def get_work_session(self, session_id: Id) -> WorkSession:
        from ..operations import resources

        return await self._send(resources.get_work_session.call(session_id=session_id))

    async def update_work_session(
        self, session_id: Id, body: WorkSessionUpdate, *, lock_token: str | None = None
    ) -> WorkSession:
        from ..operations import resources

        return await self._send(
            resources.update_work_session.call(
                session_id=session_id, body=body, lock_token=lock_token
            )
        )

    async def delete_work_session(self, session_id: Id, *, lock_token: str | None = None) -> None:
        from ..operations import resources

        await self._send(
            resources.delete_work_session.call(session_id=session_id, lock_token=lock_token)
        )

    async def list_markers(self, *, work_session_id: Id | None = None) -> list[Marker]:
        from ..operations import resources

        return await self._send(resources.list_markers.call(work_session_id=work_session_id))

    async def list_markers_page(
        self, *, work_session_id: Id | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[Marker]:
        """At most `limit` markers, after `cursor` (a previous page's `next_cursor`)."""
        from ..operations import resources

        return await self._send(
            resources.list_markers_page.call(
                work_session_id=work_session_id, limit=limit, cursor=cursor
            )
        )

    async def marker_snapshot(self, work_session_id: Id) -> MarkerSnapshot:
        """The session's markers and the change log cursor they are as of: load this, then follow
        `events(session_id, since=snapshot.cursor)` (see docs/live.md)."""
        from ..operations import resources

        return await self._send(resources.marker_snapshot.call(work_session_id=work_session_id))

    async def create_marker(self, body: MarkerCreate, *, lock_token: str | None = None) -> Marker:
        from ..operations import resources

        return await self._send(resources.create_marker.call(body=body, lock_token=lock_token))

    async def create_markers(
        self, markers: Iterable[MarkerCreate], *, lock_token: str | None = None
    ) -> list[Marker]:
        """`POST /markers/bulk`: all or none, answered in request order."""
        from ..operations import resources

        return await self._send(
            resources.create_markers.call(markers=markers, lock_token=lock_token)
        )

    async def get_marker(self, marker_id: Id) -> Marker:
        from ..operations import resources

        return await self._send(resources.get_marker.call(marker_id=marker_id))

    async def update_marker(
        self, marker_id: Id, body: MarkerUpdate, *, lock_token: str | None = None
    ) -> Marker:
        from ..operations import resources

        return await self._send(
            resources.update_marker.call(marker_id=marker_id, body=body, lock_token=lock_token)
        )

    async def delete_marker(self, marker_id: Id, *, lock_token: str | None = None) -> None:
        from ..operations import resources

        await self._send(resources.delete_marker.call(marker_id=marker_id, lock_token=lock_token))

    async def get_marker_details(self, marker_id: Id) -> MarkerDetails:
        """Raises `NotFound` until the details were calculated or stored."""
        from ..operations import resources

        return await self._send(resources.get_marker_details.call(marker_id=marker_id))

    async def calculate_marker_details(self, marker_id: Id) -> MarkerDetails:
        from ..operations import resources

        return await self._send(resources.calculate_marker_details.call(marker_id=marker_id))

    async def put_marker_details(self, marker_id: Id, body: MarkerDetailsPut) -> MarkerDetails:
        from ..operations import resources

        return await self._send(resources.put_marker_details.call(marker_id=marker_id, body=body))

    async def delete_marker_details(self, marker_id: Id) -> None:
        from ..operations import resources

        await self._send(resources.delete_marker_details.call(marker_id=marker_id))

    async def list_anchors(self, *, session_id: Id | None = None) -> list[Anchor]:
        from ..operations import resources

        return await self._send(resources.list_anchors.call(session_id=session_id))

    async def upsert_anchor(self, body: AnchorUpsert) -> Anchor:
        """Creates or moves the anchor of (session_id, run, local_z)."""
        from ..operations import resources

        return await self._send(resources.upsert_anchor.call(body=body))

    async def get_anchor(self, anchor_id: Id) -> Anchor:
        from ..operations import resources

        return await self._send(resources.get_anchor.call(anchor_id=anchor_id))

    async def update_anchor(self, anchor_id: Id, body: AnchorUpdate) -> Anchor:
        from ..operations import resources

        return await self._send(resources.update_anchor.call(anchor_id=anchor_id, body=body))

    async def delete_anchor(self, anchor_id: Id) -> None:
        from ..operations import resources

        await self._send(resources.delete_anchor.call(anchor_id=anchor_id))

    async def get_laser_guide(self, space_id: Id) -> LaserGuide:
        """Raises `NotFound` when the space has no guide."""
        from ..operations import resources

        return await self._send(resources.get_laser_guide.call(space_id=space_id))

    async def put_laser_guide(self, space_id: Id, body: LaserGuidePut) -> LaserGuide:
        from ..operations import resources

        return await self._send(resources.put_laser_guide.call(space_id=space_id, body=body))

    async def delete_laser_guide(self, space_id: Id) -> None:
        from ..operations import resources

        await self._send(resources.delete_laser_guide.call(space_id=space_id))

    async def list_reference_sets(self, space_id: Id) -> list[ReferenceSet]:
        from ..operations import resources

        return await self._send(resources.list_reference_sets.call(space_id=space_id))

    async def create_reference_set(self, space_id: Id, body: ReferenceSetCreate) -> ReferenceSet:
        from ..operations import resources

        return await self._send(resources.create_reference_set.call(space_id=space_id, body=body))

    async def get_reference_set(self, set_id: Id) -> ReferenceSet:
        from ..operations import resources

        return await self._send(resources.get_reference_set.call(set_id=set_id))

    async def update_reference_set(self, set_id: Id, body: ReferenceSetUpdate) -> ReferenceSet:
        from ..operations import resources

        return await self._send(resources.update_reference_set.call(set_id=set_id, body=body))

    async def delete_reference_set(self, set_id: Id) -> None:
        from ..operations import resources

        await self._send(resources.delete_reference_set.call(set_id=set_id))
