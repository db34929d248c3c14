"""Lock semantics on real Redis: exclusion under real concurrency, TTL, tokens, fences."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from roboscope.realtime import keys
from roboscope.realtime.locks import LockGrant, LockState, LockStore

from ..waiting import until


@pytest.fixture
def locks(redis_client: Redis) -> LockStore:
    return LockStore(redis_client)


async def unlocked(locks: LockStore, session: UUID) -> bool:
    return await locks.status(session) is None


def _same_instant(a: datetime, b: datetime) -> bool:
    """Equal up to Redis's millisecond rounding (a grant's expiry is its clock plus the TTL,
    a loser's is its clock plus the remaining PTTL)."""
    return abs(a - b) <= timedelta(milliseconds=5)


async def test_100_concurrent_acquires_grant_exactly_one(locks: LockStore) -> None:
    session = uuid4()
    results = await asyncio.gather(
        *(locks.acquire(session, ttl_ms=30_000, owner=f"user-{i}") for i in range(100))
    )
    grants = [grant for grant in results if isinstance(grant, LockGrant)]
    assert len(grants) == 1
    state = await locks.status(session)
    assert state is not None
    assert state.fence == grants[0].fence
    assert state.owner == grants[0].owner
    # Every loser was told who holds the lock and until when.
    lost = [result for result in results if not isinstance(result, LockGrant)]
    assert len(lost) == 99 and all(isinstance(result, LockState) for result in lost)
    for holder in lost:
        assert isinstance(holder, LockState)
        assert (holder.owner, holder.fence) == (state.owner, state.fence)
        assert _same_instant(holder.expires_at, grants[0].expires_at)


async def test_50_rounds_of_storms_never_show_two_holders(locks: LockStore) -> None:
    """Winners release while the rest of their storm is still trying, so a round may grant
    more than once; what must never happen is two holders at once. A holder's interval is
    recorded conservatively: from after its acquire returns to before its release is sent."""
    session = uuid4()
    events: list[tuple[str, int]] = []
    holders = 0
    max_holders = 0

    async def contender(round_no: int, i: int) -> None:
        nonlocal holders, max_holders
        grant = await locks.acquire(session, ttl_ms=30_000, owner=f"{round_no}:{i}")
        if not isinstance(grant, LockGrant):
            return
        holders += 1
        max_holders = max(max_holders, holders)
        events.append(("grant", grant.fence))
        assert await locks.fence_of(session, grant.token) == grant.fence
        await asyncio.sleep(0)
        holders -= 1
        events.append(("release", grant.fence))
        assert await locks.release(session, grant.token) is True

    for round_no in range(50):
        before = len(events)
        await asyncio.gather(*(contender(round_no, i) for i in range(100)))
        assert len(events) > before, f"round {round_no} granted nothing"

    assert max_holders == 1
    kinds = [kind for kind, _ in events]
    assert kinds == ["grant", "release"] * (len(events) // 2)
    fences = [fence for kind, fence in events if kind == "grant"]
    assert all(a < b for a, b in itertools.pairwise(fences))
    assert [fence for kind, fence in events if kind == "release"] == fences
    assert await locks.status(session) is None


async def test_lock_expires_without_client_action(locks: LockStore) -> None:
    session = uuid4()
    first = await locks.acquire(session, ttl_ms=1000, owner="a")
    assert isinstance(first, LockGrant)
    lost = await locks.acquire(session, ttl_ms=1000, owner="b")
    assert isinstance(lost, LockState)
    assert (lost.owner, lost.fence) == ("a", first.fence)
    assert _same_instant(lost.expires_at, first.expires_at)
    assert 0 < lost.ttl_remaining_ms <= 1000

    await until(lambda: unlocked(locks, session))
    assert await locks.fence_of(session, first.token) is None
    assert await locks.extend(session, first.token, ttl_ms=30_000) is None

    second = await locks.acquire(session, ttl_ms=30_000, owner="b")
    assert isinstance(second, LockGrant)
    assert second.fence > first.fence
    # The expired holder can neither extend nor release the new grant.
    assert await locks.extend(session, first.token, ttl_ms=30_000) is None
    assert await locks.release(session, first.token) is False
    state = await locks.status(session)
    assert state is not None
    assert (state.owner, state.fence) == ("b", second.fence)


async def test_wrong_token_neither_extends_nor_releases(locks: LockStore) -> None:
    session = uuid4()
    grant = await locks.acquire(session, ttl_ms=5_000, owner=None)
    assert isinstance(grant, LockGrant)
    for wrong in ("", "nope", grant.token[:-1], grant.token.upper()):
        if wrong == grant.token:
            continue
        assert await locks.extend(session, wrong, ttl_ms=60_000) is None
        assert await locks.release(session, wrong) is False
        assert await locks.fence_of(session, wrong) is None
    state = await locks.status(session)
    assert state is not None
    assert state.fence == grant.fence
    assert state.ttl_remaining_ms <= 5_000


async def test_extend_resets_ttl_and_keeps_fence(locks: LockStore) -> None:
    session = uuid4()
    grant = await locks.acquire(session, ttl_ms=5_000, owner="ann")
    assert isinstance(grant, LockGrant)
    extended = await locks.extend(session, grant.token, ttl_ms=60_000)
    assert extended is not None
    assert (extended.token, extended.fence, extended.owner) == (grant.token, grant.fence, "ann")
    assert extended.ttl_ms == 60_000
    assert extended.expires_at > grant.expires_at
    state = await locks.status(session)
    assert state is not None
    assert 5_000 < state.ttl_remaining_ms <= 60_000
    assert state.fence == grant.fence
    assert await locks.release(session, grant.token) is True
    assert await locks.release(session, grant.token) is False
    assert await locks.status(session) is None


async def test_status_never_contains_the_token(locks: LockStore, redis_client: Redis) -> None:
    session = uuid4()
    grant = await locks.acquire(session, ttl_ms=30_000, owner="Zoë 🔧")
    assert isinstance(grant, LockGrant)
    state = await locks.status(session)
    assert state is not None
    assert "token" not in {f.name for f in dataclasses.fields(state)}
    assert grant.token not in repr(state)
    assert grant.token not in repr(dataclasses.asdict(state))
    assert state.owner == "Zoë 🔧"
    assert state.expires_at.tzinfo is not None
    assert state.expires_at.utcoffset() is not None and not state.expires_at.utcoffset()


async def test_tokens_are_unguessable(locks: LockStore) -> None:
    tokens = set()
    for _ in range(20):
        session = uuid4()
        grant = await locks.acquire(session, ttl_ms=1_000, owner=None)
        assert isinstance(grant, LockGrant)
        assert re.fullmatch(r"[0-9a-f]{48}", grant.token)  # 192 random bits
        assert grant.token.replace("-", "").replace("_", "").isalnum()
        tokens.add(grant.token)
    assert len(tokens) == 20


async def test_fences_rise_across_flushdb(locks: LockStore, redis_client: Redis) -> None:
    session = uuid4()
    first = await locks.acquire(session, ttl_ms=30_000, owner=None)
    assert isinstance(first, LockGrant)
    await redis_client.flushdb()  # the counter and the lock are gone, as after a bare restart
    assert await redis_client.exists(keys.fence(session)) == 0
    second = await locks.acquire(session, ttl_ms=30_000, owner=None)
    assert isinstance(second, LockGrant)
    assert second.fence > first.fence
    assert await locks.fence_of(session, first.token) is None


async def test_fence_counter_wins_over_the_clock(locks: LockStore, redis_client: Redis) -> None:
    """While the counter lives, fences rise even if the server clock would give less."""
    session = uuid4()
    ahead = 10**16  # far beyond any current time in microseconds
    await redis_client.set(keys.fence(session), ahead)
    grant = await locks.acquire(session, ttl_ms=1_000, owner=None)
    assert isinstance(grant, LockGrant)
    assert grant.fence == ahead + 1
    assert await locks.release(session, grant.token)
    again = await locks.acquire(session, ttl_ms=1_000, owner=None)
    assert isinstance(again, LockGrant) and again.fence == ahead + 2


async def test_sessions_are_independent_and_uppercase_ids_match(locks: LockStore) -> None:
    a, b = uuid4(), uuid4()
    grant_a = await locks.acquire(a, ttl_ms=30_000, owner=None)
    grant_b = await locks.acquire(b, ttl_ms=30_000, owner=None)
    assert isinstance(grant_a, LockGrant) and isinstance(grant_b, LockGrant)
    taken = await locks.acquire(UUID(str(a).upper()), ttl_ms=30_000, owner=None)
    assert isinstance(taken, LockState) and taken.fence == grant_a.fence
    assert await locks.release(b, grant_a.token) is False


async def test_lock_keys_share_the_session_slot(locks: LockStore, redis_client: Redis) -> None:
    session = uuid4()
    assert isinstance(await locks.acquire(session, ttl_ms=30_000, owner=None), LockGrant)
    stored = [key async for key in redis_client.scan_iter(match="roboscope:*")]
    # The session's keys, and the due set of its shard: one hash slot, so one script may
    # touch all of them on a Redis Cluster.
    per_session = [key for key in stored if str(session) in key]
    assert per_session and keys.locks_due(session) in stored
    assert {key_slot(key.encode()) for key in [*per_session, keys.locks_due(session)]} == {
        key_slot(keys.lock(session).encode())
    }


@pytest.mark.parametrize("ttl_ms", [0, -1])
async def test_rejects_non_positive_ttl(locks: LockStore, ttl_ms: int) -> None:
    with pytest.raises(ValueError):
        await locks.acquire(uuid4(), ttl_ms=ttl_ms, owner=None)


def test_grant_is_a_plain_dataclass() -> None:
    assert {f.name for f in dataclasses.fields(LockGrant)} == {
        "token",
        "fence",
        "owner",
        "expires_at",
        "ttl_ms",
    }
