"""Edit locks on work sessions: one holder at a time, TTL expiry, fencing tokens.

A grant is a Redis hash (token, fence, owner) whose key TTL is the lock's TTL, so an abandoned
lock frees itself with no client action. Only the token's holder can extend or release it; the
token is 192 random bits from `secrets` and is never returned by `status`.

Fencing. A lock with a TTL cannot by itself stop a holder that paused past its expiry from
writing after someone else got the lock. So every grant carries a `fence`, strictly greater
than every earlier grant's fence for that work session, and writes check it against the newest
fence already applied to the row (in the database, in the same UPDATE).

The fence must keep rising even when Redis loses its data (a restart without persistence, a
FLUSHDB, a failover to an empty replica). The acquire script therefore computes

    fence = max(stored counter + 1, Redis server time in microseconds)

While the counter lives it guarantees strict growth on its own, even for several grants
within one microsecond or after a small clock step backwards. When it is lost, the clock takes
over: the counter can lead the clock only by about one per grant made faster than one per
microsecond, a lead that a restart, which takes far longer than microseconds, always exceeds.
For the same reason the counter may safely expire after a week without grants instead of
living forever. What the scheme does not survive is the server clock jumping back by more than
the outage; the row-level fence check in the database is the second line of defence there.

No ghost locks. Each operation is one script call, which also keeps the session's entry in
the sweeper's due set (sweeper.py): no second call can fail after a grant. When Redis
answers that one call too late (a stall past the command timeout) or the connection breaks
after sending, the caller cannot know whether Redis ran it, and Redis may even run it later,
when it works through what it was sent. Such a lock would be held for its whole TTL by a
token nobody has. So the token is made here before sending, the acquire script is
idempotent for it (a resend answers the first run's grant), and an acquire with an unknown
outcome is undone before the caller gets its 503: `lock_abandon` frees the lock if that
token holds it and marks the token so that a copy arriving later cannot take it. A grant
that its caller cannot be told of for another reason (the database could not record its
fence) is undone the same way (`abandon`). After any answer the lock is therefore the
caller's (its token returned) or not the caller's. The undo is retried while Redis cannot
answer, for `UNDO_WAIT_SECONDS` within the request, then in the background until the lock's
TTL has passed (by then a ghost would be gone); the outage's closing log line counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from roboscope.errors import RedisUnavailable
from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import RedisClient, guard
from roboscope.realtime.draws import Draw

FENCE_COUNTER_TTL_MS = 7 * 24 * 3600 * 1000
UNDO_WAIT_SECONDS = 10.0
ABANDON_MARK_EXTRA_MS = 60_000  # the mark outlives the lock TTL it protects, with margin


@dataclass(frozen=True, slots=True)
class LockGrant:
    """What the holder gets: the token proves ownership, the fence orders writes."""

    token: str
    fence: int
    owner: str | None
    expires_at: datetime
    ttl_ms: int

    @classmethod
    def of(cls, token: str, fence: Any, owner: str | None, now_ms: Any, ttl_ms: int) -> LockGrant:
        """A grant from a script's reply: the fence and Redis's clock at the grant."""
        return cls(token, int(fence), owner, _utc(int(now_ms) + ttl_ms), ttl_ms)


@dataclass(frozen=True, slots=True)
class LockState:
    """What anyone may see about a held lock (never the token)."""

    owner: str | None
    fence: int
    expires_at: datetime
    ttl_remaining_ms: int


def new_token() -> str:
    """192 random bits as 48 hex characters: safe in URLs, headers and shells, and never
    starting with `-` (which a command line would take for an option)."""
    return secrets.token_hex(24)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(0, tz=UTC) + timedelta(milliseconds=ms)


def _check_ttl(ttl_ms: int) -> int:
    if ttl_ms <= 0:
        raise ValueError("ttl_ms must be positive")
    return int(ttl_ms)


def status_of(reply: Any) -> LockState | None:
    """lock_status.lua's answer (also part of stream_snapshot.lua's): None when free."""
    if reply is None:
        return None
    fence, remaining, now_ms, owner = cast(list[Any], reply)
    remaining = max(int(remaining), 0)
    return LockState(
        owner=owner,
        fence=int(fence),
        expires_at=_utc(int(now_ms) + remaining),
        ttl_remaining_ms=remaining,
    )


def grant_keys(session_id: UUID) -> list[str]:
    """KEYS of the scripts that act on the current grant: extend, release, and the sweeper's
    lock_sweep.lua."""
    return [keys.lock(session_id), keys.lock_announced(session_id), keys.locks_due(session_id)]


class LockStore:
    """One exclusive, expiring, fenced lock per work session, kept in Redis."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._guard = guard(client)
        self._acquire = scripts.register(client, "lock_acquire")
        self._abandon = scripts.register(client, "lock_abandon")
        self._extend = scripts.register(client, "lock_extend")
        self._release = scripts.register(client, "lock_release")
        self._force_release = scripts.register(client, "lock_force_release")
        self._status = scripts.register(client, "lock_status")
        self._undoing: set[asyncio.Task[None]] = set()

    async def acquire(
        self, session_id: UUID, *, ttl_ms: int, owner: str | None, draw: Draw | None = None
    ) -> LockGrant | LockState | None:
        """Take the lock for `ttl_ms` if it is free; when someone else holds it, their grant's
        public state (who, until when). None only for a request given up meanwhile (its
        undo ran first), which a caller waiting for the answer never sees.

        Raises `RedisUnavailable` when Redis cannot answer; an acquire that may have run is
        undone first (see the module docstring), so the lock is then not the caller's. With
        `draw`, the request's rate budget is drawn in the same call, and nothing changes when
        it refuses (`BudgetSpent`: draws.py).
        """
        ttl_ms = _check_ttl(ttl_ms)
        token = new_token()
        args: list[str | int] = [token, ttl_ms, FENCE_COUNTER_TTL_MS]
        if owner is not None:
            args.append(owner)
        lock_keys = [
            keys.lock(session_id),
            keys.fence(session_id),
            keys.lock_abandoned(session_id, token),
            keys.lock_announced(session_id),
            keys.locks_due(session_id),
        ]
        try:
            reply = await self._acquire(keys=lock_keys, args=args, draw=draw)
        except RedisUnavailable as error:
            if error.outcome_unknown:
                self._guard.outages.note("lock acquires undone (answer lost)")
                await self._undo(session_id, token, ttl_ms, wait=not error.unreachable)
            raise
        except asyncio.CancelledError:  # the request went away mid-call: same uncertainty
            await self._undo(session_id, token, ttl_ms, wait=False)
            raise
        if reply is None:
            return None
        granted, fence, now_ms, remaining_ms, *holder = cast(list[Any], reply)
        expires_at = _utc(int(now_ms) + int(remaining_ms))
        if granted:
            return LockGrant(token, int(fence), owner, expires_at, ttl_ms)
        return LockState(
            owner=holder[0] if holder else None,
            fence=int(fence),
            expires_at=expires_at,
            ttl_remaining_ms=max(int(remaining_ms), 0),
        )

    async def abandon(self, session_id: UUID, grant: LockGrant) -> None:
        """Undo a grant whose caller will not be told of it (the request failed after the
        grant): frees the lock if the grant still holds it. Waits as an acquire's undo does
        (see `_undo`); never raises for Redis."""
        await self._undo(session_id, grant.token, grant.ttl_ms, wait=True)

    async def _undo(self, session_id: UUID, token: str, ttl_ms: int, *, wait: bool) -> None:
        """Abandon `token`'s acquire, in a task that retries while Redis cannot answer.

        With `wait` the caller waits until the undo is done, at most `UNDO_WAIT_SECONDS`, or
        until Redis turns out to be unreachable (then nobody can see the lock meanwhile); the
        task goes on in the background either way until it succeeds or the TTL has passed.
        """
        settled = asyncio.Event()
        task = asyncio.create_task(self._abandon_until(session_id, token, ttl_ms, settled))
        self._undoing.add(task)
        task.add_done_callback(self._undoing.discard)
        if wait:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(UNDO_WAIT_SECONDS):
                    await settled.wait()

    async def _abandon_until(
        self, session_id: UUID, token: str, ttl_ms: int, settled: asyncio.Event
    ) -> None:
        # Once the TTL has passed since now, a grant made by the lost acquire has expired.
        give_up_at = time.monotonic() + ttl_ms / 1000
        mark_keys = [
            keys.lock(session_id),
            keys.lock_abandoned(session_id, token),
            keys.lock_announced(session_id),
            keys.locks_due(session_id),
        ]
        args = [token, ttl_ms + ABANDON_MARK_EXTRA_MS]
        delay = 0.05
        try:
            while True:
                try:
                    await self._abandon(keys=mark_keys, args=args)
                    return
                except RedisUnavailable as error:
                    if error.unreachable:
                        settled.set()
                    if time.monotonic() + delay >= give_up_at:
                        # Any grant it made has expired by now: nothing is left held.
                        self._guard.outages.note("lock undos dropped after the lock's TTL")
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        finally:
            settled.set()

    @property
    def undoing(self) -> int:
        """Acquires being undone in the background now."""
        return len(self._undoing)

    async def aclose(self) -> None:
        """Stop undoing in the background (at shutdown)."""
        for task in list(self._undoing):
            task.cancel()
        await asyncio.gather(*self._undoing, return_exceptions=True)

    async def extend(self, session_id: UUID, token: str, *, ttl_ms: int) -> LockGrant | None:
        """Set the remaining TTL to `ttl_ms` from now, keeping the fence.

        None when `token` does not hold the lock now (wrong token, released, or expired).
        """
        ttl_ms = _check_ttl(ttl_ms)
        reply = await self._extend(keys=grant_keys(session_id), args=[token, ttl_ms])
        if reply is None:
            return None
        fence, now_ms, owner = cast(list[Any], reply)
        return LockGrant.of(token, fence, owner, now_ms, ttl_ms)

    async def release(self, session_id: UUID, token: str, *, draw: Draw | None = None) -> bool:
        """Free the lock if `token` holds it; False otherwise (nothing else changes). With
        `draw` as in `acquire`."""
        released = await self._release(keys=grant_keys(session_id), args=[token], draw=draw)
        return bool(released)

    async def force_release(self, session_id: UUID) -> int | None:
        """Free the lock whoever holds it; the fence it consumed (above the freed grant's and
        below every later grant's), or None when the lock was free."""
        lock_keys = [
            keys.lock(session_id),
            keys.fence(session_id),
            keys.lock_announced(session_id),
            keys.locks_due(session_id),
        ]
        fence = await self._force_release(keys=lock_keys, args=[FENCE_COUNTER_TTL_MS])
        return None if fence is None else int(fence)

    async def status(self, session_id: UUID) -> LockState | None:
        """The current holder's public state, or None when the lock is free."""
        return status_of(await self._status(keys=[keys.lock(session_id)]))

    async def fence_of(self, session_id: UUID, token: str) -> int | None:
        """The fence of the grant `token` holds right now, else None (authorizes fenced writes)."""
        async with self._guard:
            held_token, fence = await self._client.hmget(keys.lock(session_id), ["token", "fence"])
        if held_token is None or fence is None:
            return None
        if not secrets.compare_digest(str(held_token).encode(), token.encode()):
            return None
        return int(fence)
