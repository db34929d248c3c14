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

No ghost locks. When Redis answers an acquire too late (a stall past the command timeout) or
the connection breaks after sending, the caller cannot know whether Redis ran it, and Redis
may even run it later, when it works through what it was sent. Such a lock would be held for
its whole TTL by a token nobody has. So the token is made here before sending, the acquire
script is idempotent for it (a resend answers the first run's grant), and an acquire with an
unknown outcome is undone before the caller gets its 503: `lock_abandon` frees the lock if
that token holds it and marks the token so that a copy arriving later cannot take it. After
any answer the lock is therefore the caller's (its token returned) or not the caller's.
The undo is retried while Redis cannot answer, for `UNDO_WAIT_SECONDS` within the request,
then in the background until the lock's TTL has passed (by then a ghost would be gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import RedisClient, RedisUnavailable, guard

log = logging.getLogger("roboscope.locks")

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


class LockStore:
    """One exclusive, expiring, fenced lock per work session, kept in Redis."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._acquire = scripts.register(client, "lock_acquire")
        self._abandon = scripts.register(client, "lock_abandon")
        self._extend = scripts.register(client, "lock_extend")
        self._release = scripts.register(client, "lock_release")
        self._force_release = scripts.register(client, "lock_force_release")
        self._status = scripts.register(client, "lock_status")
        self._undoing: set[asyncio.Task[None]] = set()

    async def acquire(
        self, session_id: UUID, *, ttl_ms: int, owner: str | None
    ) -> LockGrant | None:
        """Take the lock for `ttl_ms` if it is free; None when someone else holds it.

        Raises `RedisUnavailable` when Redis cannot answer; an acquire that may have run is
        undone first (see the module docstring), so the lock is then not the caller's.
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
        ]
        try:
            reply = await self._acquire(keys=lock_keys, args=args)
        except RedisUnavailable as error:
            if error.outcome_unknown:
                await self._undo(session_id, token, ttl_ms, wait=not error.unreachable)
            raise
        except asyncio.CancelledError:  # the request went away mid-call: same uncertainty
            await self._undo(session_id, token, ttl_ms, wait=False)
            raise
        if reply is None:
            return None
        fence, now_ms, remaining_ms = cast(list[Any], reply)
        await self._due(session_id, int(now_ms) + int(remaining_ms))
        return LockGrant(token, int(fence), owner, _utc(int(now_ms) + int(remaining_ms)), ttl_ms)

    async def _due(self, session_id: UUID, expires_ms: int) -> None:
        """Tell the sweeper when to look for this lock's expiry (it announces it once)."""
        async with guard():
            await self._client.zadd(keys.locks_due(session_id), {str(session_id): expires_ms})

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
                        log.warning("could not undo a lock acquire on %s: %s", session_id, error)
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        finally:
            settled.set()

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
        lock_keys = [keys.lock(session_id), keys.lock_announced(session_id)]
        reply = await self._extend(keys=lock_keys, args=[token, ttl_ms])
        if reply is None:
            return None
        fence, now_ms, owner = cast(list[Any], reply)
        await self._due(session_id, int(now_ms) + ttl_ms)
        return LockGrant.of(token, fence, owner, now_ms, ttl_ms)

    async def release(self, session_id: UUID, token: str) -> bool:
        """Free the lock if `token` holds it; False otherwise (nothing else changes)."""
        lock_keys = [keys.lock(session_id), keys.lock_announced(session_id)]
        released = await self._release(keys=lock_keys, args=[token])
        return bool(released)

    async def force_release(self, session_id: UUID) -> int | None:
        """Free the lock whoever holds it; the fence it consumed (above the freed grant's and
        below every later grant's), or None when the lock was free."""
        lock_keys = [keys.lock(session_id), keys.fence(session_id), keys.lock_announced(session_id)]
        fence = await self._force_release(keys=lock_keys, args=[FENCE_COUNTER_TTL_MS])
        return None if fence is None else int(fence)

    async def status(self, session_id: UUID) -> LockState | None:
        """The current holder's public state, or None when the lock is free."""
        reply = await self._status(keys=[keys.lock(session_id)])
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

    async def fence_of(self, session_id: UUID, token: str) -> int | None:
        """The fence of the grant `token` holds right now, else None (authorizes fenced writes)."""
        async with guard():
            held_token, fence = await self._client.hmget(keys.lock(session_id), ["token", "fence"])
        if held_token is None or fence is None:
            return None
        if not secrets.compare_digest(str(held_token).encode(), token.encode()):
            return None
        return int(fence)
