"""Who is in a work session right now, per device, expiring on server time.

A user is present while at least one of their devices has beaten within its TTL. Each device
beats on its own; the user is listed once and leaves when the last device leaves or expires.
Expiry needs no client action: every script prunes expired devices first (by Redis server
time, so all API processes agree), and the session's keys carry PEXPIREAT at the latest device
expiry, so an abandoned session disappears from Redis on its own.

Bounds. A session holds at most `max_devices` present devices: a heartbeat of one more is
refused (`DevicesAtCapacity`) while the devices already present keep beating. A script prunes at
most `PRUNE_BATCH` expired devices, so none runs long however many expired at once (Redis runs
one script at a time, for every session); the rest go in the next calls, and until then they
are neither counted nor listed.

The display name and meta of a user are those of their most recent heartbeat (from any of
their devices), absent fields included: a heartbeat without `display_name` clears it. The
size of `meta` is capped at the HTTP edge, like every free-form object of a request body
(ROBOSCOPE_MAX_META_BYTES, wire/limits.py).

Every presence script also keeps the session's entry in the sweeper's due set (its earliest
device expiry), in the same step as the change: see sweeper.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import RedisClient
from roboscope.realtime.draws import Draw
from roboscope.realtime.locks import LockState, status_of

DEFAULT_DEVICE = "default"
DEFAULT_MAX_DEVICES = 1000
PRUNE_BATCH = 100


class DevicesAtCapacity(Exception):
    """The session already holds `max_devices` present devices; this new one was not added."""

    def __init__(self, max_devices: int, user_count: int, device_count: int) -> None:
        super().__init__(f"the work session already has {device_count} devices present")
        self.max_devices = max_devices
        self.user_count = user_count
        self.device_count = device_count


@dataclass(frozen=True, slots=True)
class PresenceMember:
    user_id: str
    devices: list[str]
    last_seen: datetime
    expires_at: datetime
    display_name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PresenceBeat:
    """What a heartbeat answers: until when this device counts as present, and the counts."""

    user_id: str
    device_id: str
    expires_at: datetime
    user_count: int
    device_count: int


@dataclass(frozen=True, slots=True)
class PresenceSnapshot:
    """Present users in order of joining (ties by user id); counts are read in O(1)."""

    users: list[str]
    members: list[PresenceMember]
    user_count: int
    device_count: int


def _utc(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def script_keys(session_id: UUID) -> list[str]:
    """KEYS of every presence script, the sweeper's included (presence_common.lua)."""
    return [*keys.presence(session_id), keys.presence_due(session_id)]


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _parse(reply: list[Any]) -> PresenceSnapshot:
    now, user_count, device_count, flat_states, flat_profiles = reply
    profiles = _pairs(flat_profiles)
    members: list[tuple[int, PresenceMember]] = []
    for user_id, raw_state in _pairs(flat_states).items():
        state = json.loads(raw_state)
        # Devices that expired but await pruning (more expired than one batch) are not here.
        expiries = {device: at for device, at in state["v"].items() if at > now}
        if not expiries:
            continue
        profile = json.loads(profiles.get(user_id, "{}"))
        member = PresenceMember(
            user_id=user_id,
            devices=sorted(expiries),
            last_seen=_utc(state["s"]),
            expires_at=_utc(max(expiries.values())),
            display_name=profile.get("display_name"),
            meta=profile.get("meta") or {},
        )
        members.append((int(state["j"]), member))
    members.sort(key=lambda joined_member: (joined_member[0], joined_member[1].user_id))
    ordered = [member for _, member in members]
    return PresenceSnapshot(
        users=[member.user_id for member in ordered],
        members=ordered,
        user_count=int(user_count),
        device_count=int(device_count),
    )


class PresenceStore:
    """Presence of users (and their devices) in work sessions, kept in Redis."""

    def __init__(self, client: RedisClient, *, max_devices: int = DEFAULT_MAX_DEVICES) -> None:
        if max_devices < 1:
            raise ValueError("max_devices must be at least 1")
        self.max_devices = max_devices
        self._heartbeat = scripts.register(client, "presence_heartbeat")
        self._leave = scripts.register(client, "presence_leave")
        self._snapshot = scripts.register(client, "presence_snapshot")
        self._stream_snapshot = scripts.register(client, "stream_snapshot")

    async def heartbeat(
        self,
        session_id: UUID,
        user_id: str,
        *,
        device_id: str | None,
        display_name: str | None,
        meta: dict[str, Any] | None,
        ttl_ms: int,
        draw: Draw | None = None,
    ) -> PresenceBeat:
        """Mark one device of `user_id` present for `ttl_ms` from now.

        Raises `DevicesAtCapacity` (and stores nothing) for a device that is not present yet when
        the session already holds `max_devices` devices. With `draw`, the request's rate
        budget is drawn in the same call, and nothing is stored when it refuses
        (`BudgetSpent`: draws.py)."""
        if ttl_ms <= 0:
            raise ValueError("ttl_ms must be positive")
        profile = json.dumps(
            {"display_name": display_name, "meta": meta or {}},
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )
        device = device_id or DEFAULT_DEVICE
        args = [PRUNE_BATCH, user_id, device, int(ttl_ms), profile, self.max_devices]
        reply = await self._heartbeat(keys=script_keys(session_id), args=args, draw=draw)
        expires, user_count, device_count = cast(list[int], reply)
        if not expires:
            raise DevicesAtCapacity(self.max_devices, int(user_count), int(device_count))
        return PresenceBeat(
            user_id=user_id,
            device_id=device,
            expires_at=_utc(expires),
            user_count=int(user_count),
            device_count=int(device_count),
        )

    async def leave(
        self, session_id: UUID, user_id: str, device_id: str | None = None
    ) -> PresenceSnapshot:
        """One device leaves, or, without `device_id`, every device of the user."""
        args: list[str | int] = [PRUNE_BATCH, user_id]
        if device_id is not None:
            args.append(device_id)
        reply = await self._leave(keys=script_keys(session_id), args=args)
        return _parse(cast(list[Any], reply))

    async def snapshot(self, session_id: UUID) -> PresenceSnapshot:
        reply = await self._snapshot(keys=script_keys(session_id), args=[PRUNE_BATCH])
        return _parse(cast(list[Any], reply))

    async def with_lock(self, session_id: UUID) -> tuple[PresenceSnapshot, LockState | None]:
        """`snapshot` and the lock's `LockStore.status`, in one round trip at one moment:
        what a live stream starts with (opening storms are paced by it)."""
        reply = await self._stream_snapshot(
            keys=[*script_keys(session_id), keys.lock(session_id)], args=[PRUNE_BATCH]
        )
        present, lock = cast(list[Any], reply)
        return _parse(cast(list[Any], present)), status_of(lock)
