"""A fault between two Redis calls of one operation: whatever the answer, it is the truth.

Every operation that changes presence or a lock is one script call, the sweeper's due-set
entry included; a fault after that call can no longer turn a done change into a 503 (the
"ghost lock": granted in Redis, 503 to the client, held for its whole TTL by a token nobody
has). A TCP proxy lets the operation's first call through and then stalls past the command
timeout or resets every connection; the state is then read on a direct connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis

from roboscope.errors import RedisUnavailable
from roboscope.realtime import keys
from roboscope.realtime.locks import LockGrant, LockStore
from roboscope.realtime.presence import PresenceBeat, PresenceStore
from roboscope.realtime.sweeper import Sweeper

from ..tcp_proxy import Fault
from .channel import all_heard, listening
from .proxied import Proxied, eventually, proxied

__all__ = ["proxied"]  # the fixture

FAULTS: list[Fault] = ["stall", "reset"]


async def _due(client: Redis, due_key: str, session: UUID) -> float | None:
    score: float | None = await client.zscore(due_key, str(session))
    return score


def _ms(grant: LockGrant | PresenceBeat) -> float:
    return grant.expires_at.timestamp() * 1000


@pytest.mark.parametrize("fault", FAULTS)
async def test_an_acquire_is_answered_or_undone(proxied: Proxied, fault: Fault) -> None:
    locks, truth = LockStore(proxied.through), LockStore(proxied.direct)
    session = uuid4()
    outcome = await proxied.faulted(1, fault, locks.acquire(session, ttl_ms=600_000, owner="ann"))
    if isinstance(outcome, LockGrant):
        state = await truth.status(session)
        assert state is not None and state.fence == outcome.fence
        assert await truth.fence_of(session, outcome.token) == outcome.fence
        assert await _due(proxied.direct, keys.locks_due(session), session) == _ms(outcome)
    else:
        assert isinstance(outcome, RedisUnavailable)

        async def freed() -> bool:
            return await truth.status(session) is None

        await eventually(freed, f"a ghost lock: held although the acquire answered {outcome!r}")
    await locks.aclose()


@pytest.mark.parametrize("fault", FAULTS)
async def test_an_extend_is_answered_or_not_done(proxied: Proxied, fault: Fault) -> None:
    locks, truth = LockStore(proxied.through), LockStore(proxied.direct)
    session = uuid4()
    grant = await truth.acquire(session, ttl_ms=60_000, owner="ann")
    assert isinstance(grant, LockGrant)
    outcome = await proxied.faulted(1, fault, locks.extend(session, grant.token, ttl_ms=600_000))
    state = await truth.status(session)
    assert state is not None
    if isinstance(outcome, LockGrant):
        assert state.ttl_remaining_ms > 60_000
        assert await _due(proxied.direct, keys.locks_due(session), session) == _ms(outcome)
    else:
        assert state.ttl_remaining_ms <= 60_000, f"extended although it answered {outcome!r}"


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_heartbeat_is_answered_or_not_done(proxied: Proxied, fault: Fault) -> None:
    presence, truth = PresenceStore(proxied.through), PresenceStore(proxied.direct)
    session = uuid4()
    beat = presence.heartbeat(
        session, "ann", device_id="ipad", display_name=None, meta=None, ttl_ms=60_000
    )
    outcome = await proxied.faulted(1, fault, beat)
    users = (await truth.snapshot(session)).users
    if isinstance(outcome, PresenceBeat):
        assert users == ["ann"]
        assert await _due(proxied.direct, keys.presence_due(session), session) == _ms(outcome)
    else:
        assert users == [], f"present although the heartbeat answered {outcome!r}"


@pytest.mark.parametrize("fault", FAULTS)
async def test_release_leave_and_force_release_are_one_call(proxied: Proxied, fault: Fault) -> None:
    """Each also takes its session out of the due set, in the same script."""
    locks, presence = LockStore(proxied.through), PresenceStore(proxied.through)
    truth = LockStore(proxied.direct)
    released, forced, left = uuid4(), uuid4(), uuid4()
    grant = await truth.acquire(released, ttl_ms=60_000, owner=None)
    assert isinstance(grant, LockGrant)
    assert isinstance(await truth.acquire(forced, ttl_ms=60_000, owner=None), LockGrant)
    await PresenceStore(proxied.direct).heartbeat(
        left, "ann", device_id=None, display_name=None, meta=None, ttl_ms=60_000
    )
    assert await proxied.faulted(1, fault, locks.release(released, grant.token)) is True
    assert isinstance(await proxied.faulted(1, fault, locks.force_release(forced)), int)
    after = await proxied.faulted(1, fault, presence.leave(left, "ann"))
    assert not isinstance(after, RedisUnavailable) and after.users == []
    for session in (released, forced):
        assert await truth.status(session) is None
        assert await _due(proxied.direct, keys.locks_due(session), session) is None
    assert await _due(proxied.direct, keys.presence_due(left), left) is None


@pytest.fixture
async def heard(proxied: Proxied) -> AsyncIterator[list[dict[str, Any]]]:
    async with listening(proxied.direct) as messages:
        yield messages


@pytest.mark.parametrize("writes", range(5))
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_sweep_cut_short_anywhere_announces_each_expiry_once(
    proxied: Proxied, heard: list[dict[str, Any]], fault: Fault, writes: int
) -> None:
    """A round is: the time, then per due set its due sessions, then one script per session
    (which also reschedules it). Cut after any of them, the next round finishes the work."""
    truth = LockStore(proxied.direct)
    locked, present = uuid4(), uuid4()
    assert isinstance(await truth.acquire(locked, ttl_ms=50, owner="ann"), LockGrant)
    await PresenceStore(proxied.direct).heartbeat(
        present, "bob", device_id="ipad", display_name=None, meta=None, ttl_ms=50
    )

    device_expiry = await _due(proxied.direct, keys.presence_due(present), present)
    assert device_expiry is not None

    async def both_expired() -> bool:
        seconds, micros = await proxied.direct.time()
        past_device = seconds * 1000 + micros / 1000 > device_expiry
        return past_device and await truth.status(locked) is None

    await eventually(both_expired, "the lock and the device did not expire")
    await proxied.faulted(writes, fault, Sweeper(proxied.through).sweep())
    await Sweeper(proxied.direct).sweep()
    await Sweeper(proxied.direct).sweep()  # nothing left to announce
    await all_heard(proxied.direct, heard)
    expiries = [(m["e"], m["s"]) for m in heard if m["e"] in ("lock.expired", "presence.left")]
    assert sorted(expiries) == [("lock.expired", str(locked)), ("presence.left", str(present))]
    assert await _due(proxied.direct, keys.locks_due(locked), locked) is None
    assert await _due(proxied.direct, keys.presence_due(present), present) is None
