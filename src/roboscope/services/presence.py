"""Presence: heartbeats keep a user listed for the presence TTL; no heartbeat, no user.

Presence is keyed by work session id only and lives in Redis alone, so it keeps working while
the database is down (and does not check that the session exists).
"""

from __future__ import annotations

from uuid import UUID

from ..errors import PresenceFull
from ..realtime import PresenceSnapshot, PresenceStore
from ..realtime.draws import Draw
from ..realtime.presence import DevicesAtCapacity
from ..wire.presence import PresenceBeat, PresenceHeartbeat, PresenceList, PresenceMember
from .access import Identity, acting_user


def _as_wire(snapshot: PresenceSnapshot) -> PresenceList:
    """Built without validation: the snapshot is our own data, every field of it validated on
    the way in (heartbeat bodies) or made by the store (times, counts); validating it again
    would cost more than the Redis call it reports on."""
    return PresenceList.model_construct(
        users=snapshot.users,
        members=[
            PresenceMember.model_construct(
                user_id=m.user_id,
                devices=m.devices,
                last_seen=m.last_seen,
                expires_at=m.expires_at,
                display_name=m.display_name,
                meta=m.meta,
            )
            for m in snapshot.members
        ],
        user_count=snapshot.user_count,
        device_count=snapshot.device_count,
    )


async def heartbeat(
    store: PresenceStore,
    caller: Identity,
    session_id: UUID,
    beat: PresenceHeartbeat,
    *,
    ttl_seconds: float,
    draw: Draw | None = None,
) -> PresenceBeat:
    """The answer is small on purpose (counts, not the member list): clients beat every 10 s
    and ignore the body; `GET /presence/{id}` has the list. With auth on, only as the
    token's user. `draw`: the request's rate budget draw, taken by the store's call."""
    acting_user(caller, beat.user_id, "be present")
    try:
        done = await store.heartbeat(
            session_id,
            beat.user_id,
            device_id=beat.device_id,
            display_name=beat.display_name,
            meta=beat.meta,
            ttl_ms=max(1, round(ttl_seconds * 1000)),
            draw=draw,
        )
    except DevicesAtCapacity as full:
        raise PresenceFull(
            f"work session {session_id} already has {full.device_count} devices present, "
            f"the most allowed; this device can join when one leaves or expires",
            max_devices=full.max_devices,
        ) from None
    return PresenceBeat.model_construct(
        user_id=done.user_id,
        device_id=done.device_id,
        expires_at=done.expires_at,
        user_count=done.user_count,
        device_count=done.device_count,
    )


async def leave(
    store: PresenceStore, caller: Identity, session_id: UUID, user_id: str, device_id: str | None
) -> PresenceList:
    """Without `device_id` every device of the user leaves. With auth on, only the token's
    user can leave."""
    acting_user(caller, user_id, "leave presence")
    return _as_wire(await store.leave(session_id, user_id, device_id))


async def present(store: PresenceStore, session_id: UUID) -> PresenceList:
    return _as_wire(await store.snapshot(session_id))


def present_of(snapshot: PresenceSnapshot) -> PresenceList:
    """A presence snapshot read elsewhere (`PresenceStore.with_lock`), as the API answers it."""
    return _as_wire(snapshot)
