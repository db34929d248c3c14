"""Presence on real Redis: per-device TTL expiry, leave, several devices, verbatim ids."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from roboscope.realtime import keys, scripts
from roboscope.realtime import presence as presence_module
from roboscope.realtime.locks import LockGrant, LockStore
from roboscope.realtime.presence import DevicesAtCapacity, PresenceSnapshot, PresenceStore
from roboscope.realtime.presence import script_keys as presence_script_keys
from roboscope.realtime.sweeper import Sweeper

from ..waiting import until
from .conftest import redis_time_past

LONG = 30_000
MAX_DEVICES = 1000
"""Devices one work session holds by default (docs/limits.md)."""
PRUNE_BATCH = 100
"""Expired devices one call removes at most (realtime/presence.py), written here."""


@pytest.fixture
def presence(redis_client: Redis) -> PresenceStore:
    return PresenceStore(redis_client)


async def users_are(presence: PresenceStore, session: UUID, users: list[str]) -> bool:
    return (await presence.snapshot(session)).users == users


async def devices_are(presence: PresenceStore, session: UUID, devices: list[list[str]]) -> bool:
    return [member.devices for member in (await presence.snapshot(session)).members] == devices


async def beat(
    presence: PresenceStore,
    session: Any,
    user: str,
    *,
    device: str | None = None,
    ttl_ms: int = LONG,
    display_name: str | None = None,
    meta: dict[str, Any] | None = None,
) -> PresenceSnapshot:
    """One heartbeat, then who is present (a heartbeat itself answers only counts)."""
    answer = await presence.heartbeat(
        session, user, device_id=device, display_name=display_name, meta=meta, ttl_ms=ttl_ms
    )
    assert answer.device_id == (device or "default")
    return await presence.snapshot(session)


async def test_heartbeat_lists_user_with_details(presence: PresenceStore) -> None:
    session = uuid4()
    snap = await beat(
        presence, session, "ann", device="phone", display_name="Ann", meta={"role": "lead"}
    )
    assert snap.users == ["ann"]
    assert (snap.user_count, snap.device_count) == (1, 1)
    (member,) = snap.members
    assert member.user_id == "ann"
    assert member.devices == ["phone"]
    assert member.display_name == "Ann"
    assert member.meta == {"role": "lead"}
    assert member.last_seen.utcoffset() == timedelta(0)
    assert member.expires_at - member.last_seen == timedelta(milliseconds=LONG)
    assert await presence.snapshot(session) == snap


async def test_heartbeat_without_device_uses_default(presence: PresenceStore) -> None:
    snap = await beat(presence, uuid4(), "bob")
    assert snap.members[0].devices == ["default"]
    assert snap.members[0].meta == {}
    assert snap.members[0].display_name is None


async def test_user_expires_without_client_action(
    presence: PresenceStore, redis_client: Redis
) -> None:
    session = uuid4()
    await beat(presence, session, "short", ttl_ms=300)
    await beat(presence, session, "long", ttl_ms=LONG)
    await until(lambda: users_are(presence, session, ["long"]))
    snap = await presence.snapshot(session)
    assert (snap.user_count, snap.device_count) == (1, 1)


async def test_abandoned_session_vanishes_from_redis(
    presence: PresenceStore, redis_client: Redis
) -> None:
    session = uuid4()
    await beat(presence, session, "a", ttl_ms=300)
    last = await beat(presence, session, "b", device="x", ttl_ms=200)
    assert await redis_client.exists(*keys.presence(session)) == len(keys.presence(session))
    gone = max(member.expires_at for member in last.members)
    await until(lambda: redis_time_past(redis_client, gone))
    # Nobody called since: the sweeper announces the expiries and the keys go with the last
    # device (without any process sweeping, Redis drops them a grace period later).
    await Sweeper(redis_client).sweep()
    assert await redis_client.exists(*keys.presence(session)) == 0
    snap = await presence.snapshot(session)
    assert (snap.users, snap.members, snap.user_count, snap.device_count) == ([], [], 0, 0)


async def test_leave(presence: PresenceStore, redis_client: Redis) -> None:
    session = uuid4()
    await beat(presence, session, "ann")
    await beat(presence, session, "bob")
    snap = await presence.leave(session, "ann")
    assert snap.users == ["bob"]
    assert (snap.user_count, snap.device_count) == (1, 1)
    assert (await presence.leave(session, "nobody")).users == ["bob"]
    assert (await presence.leave(session, "bob")).users == []
    assert await redis_client.exists(*keys.presence(session)) == 0


async def test_two_devices_listed_once_until_both_leave(presence: PresenceStore) -> None:
    session = uuid4()
    await beat(presence, session, "ann", device="phone")
    snap = await beat(presence, session, "ann", device="ipad")
    assert snap.users == ["ann"]
    assert (snap.user_count, snap.device_count) == (1, 2)
    assert snap.members[0].devices == ["ipad", "phone"]

    snap = await presence.leave(session, "ann", "phone")
    assert snap.users == ["ann"]
    assert snap.members[0].devices == ["ipad"]
    assert (snap.user_count, snap.device_count) == (1, 1)

    snap = await presence.leave(session, "ann", "ipad")
    assert snap.users == []
    assert (snap.user_count, snap.device_count) == (0, 0)


async def test_two_devices_one_expires(presence: PresenceStore) -> None:
    session = uuid4()
    await beat(presence, session, "ann", device="phone", ttl_ms=300)
    await beat(presence, session, "ann", device="ipad", ttl_ms=LONG)
    await until(lambda: devices_are(presence, session, [["ipad"]]))
    snap = await presence.snapshot(session)
    assert snap.users == ["ann"]
    assert (snap.user_count, snap.device_count) == (1, 1)


async def test_two_devices_both_expire(presence: PresenceStore) -> None:
    session = uuid4()
    await beat(presence, session, "ann", device="phone", ttl_ms=200)
    await beat(presence, session, "ann", device="ipad", ttl_ms=400)
    await beat(presence, session, "bob", ttl_ms=LONG)
    await until(lambda: users_are(presence, session, ["bob"]))
    snap = await presence.snapshot(session)
    assert (snap.user_count, snap.device_count) == (1, 1)


async def test_leave_without_device_removes_every_device(presence: PresenceStore) -> None:
    session = uuid4()
    for device in ("phone", "ipad", "vision"):
        await beat(presence, session, "ann", device=device)
    await beat(presence, session, "bob")
    snap = await presence.leave(session, "ann")
    assert snap.users == ["bob"]
    assert (snap.user_count, snap.device_count) == (1, 1)


async def test_user_ids_are_verbatim(presence: PresenceStore) -> None:
    session = uuid4()
    ids = [
        "Zoë 👩‍🔧",
        "用户-7",
        "ALICE",
        "alice",
        '["not", "json"]',
        "123",
        'a/b\\c"d',
        "  spaced  ",
        "nul\x00byte",
        "E6F3A1B2-0000-4000-8000-000000000000",
    ]
    for user in ids:
        await beat(presence, session, user, device=f"dev {user}", ttl_ms=LONG)
    snap = await presence.snapshot(session)
    assert snap.users == ids  # in order of joining
    assert [m.devices for m in snap.members] == [[f"dev {user}"] for user in ids]
    assert (snap.user_count, snap.device_count) == (len(ids), len(ids))
    for user in ids:
        await presence.leave(session, user, f"dev {user}")
    assert (await presence.snapshot(session)).user_count == 0


async def test_unicode_devices_expire_too(presence: PresenceStore) -> None:
    session = uuid4()
    await beat(presence, session, "Zoë 👩‍🔧", device='iPad "Pro" ✓', ttl_ms=200)
    await until(lambda: users_are(presence, session, []))


async def test_order_is_first_join(presence: PresenceStore) -> None:
    session = uuid4()
    for user in ("carol", "ann", "bob"):
        await beat(presence, session, user)
    snap = await beat(presence, session, "carol", device="second")
    assert snap.users == ["carol", "ann", "bob"]


async def test_latest_heartbeat_sets_display_name_and_meta(presence: PresenceStore) -> None:
    session = uuid4()
    await beat(presence, session, "ann", device="phone", display_name="Ann", meta={"c": "red"})
    snap = await beat(
        presence, session, "ann", device="ipad", display_name="Ann B.", meta={"c": "blue"}
    )
    assert (snap.members[0].display_name, snap.members[0].meta) == ("Ann B.", {"c": "blue"})
    snap = await beat(presence, session, "ann", device="phone")
    assert (snap.members[0].display_name, snap.members[0].meta) == (None, {})
    nested = {"a": [1, 2.5, None, True], "b": {"ü": "✓"}, "empty": {}}
    snap = await beat(presence, session, "ann", meta=nested)
    assert snap.members[0].meta == nested


async def test_meta_that_is_not_json_is_rejected_and_changes_nothing(
    presence: PresenceStore,
) -> None:
    """(Its size is capped at the HTTP edge, with every other free-form object:
    tests/api/test_presence.py.)"""
    session = uuid4()
    await beat(presence, session, "ann", meta={"ok": True})
    with pytest.raises(ValueError):
        await beat(presence, session, "ann", meta={"x": float("nan")})
    assert (await presence.snapshot(session)).members[0].meta == {"ok": True}


async def test_last_seen_and_expiry_follow_the_latest_beat(
    presence: PresenceStore, redis_client: Redis
) -> None:
    session = uuid4()
    first = (await beat(presence, session, "ann", ttl_ms=LONG)).members[0]
    # Beats are stamped with Redis's clock, in milliseconds: the next one falls in a later one.
    later = first.last_seen + timedelta(milliseconds=1)
    await until(lambda: redis_time_past(redis_client, later))
    second = (await beat(presence, session, "ann", ttl_ms=LONG)).members[0]
    assert second.last_seen > first.last_seen
    assert second.expires_at > first.expires_at


async def test_heartbeat_answers_expiry_and_counts(presence: PresenceStore) -> None:
    session = uuid4()
    first = await presence.heartbeat(
        session, "ann", device_id="phone", display_name=None, meta=None, ttl_ms=LONG
    )
    assert (first.user_id, first.device_id, first.user_count, first.device_count) == (
        "ann",
        "phone",
        1,
        1,
    )
    second = await presence.heartbeat(
        session, "ann", device_id=None, display_name=None, meta=None, ttl_ms=LONG
    )
    assert (second.device_id, second.user_count, second.device_count) == ("default", 1, 2)
    listed = await presence.snapshot(session)
    assert listed.members[0].expires_at == second.expires_at


async def test_concurrent_heartbeats_are_all_counted(presence: PresenceStore) -> None:
    session = uuid4()
    await asyncio.gather(
        *(beat(presence, session, f"user-{i}", device=f"d{i % 3}") for i in range(60))
    )
    snap = await presence.snapshot(session)
    assert (snap.user_count, snap.device_count) == (60, 60)
    assert sorted(snap.users) == sorted(f"user-{i}" for i in range(60))


async def test_sessions_are_isolated(presence: PresenceStore) -> None:
    a, b = uuid4(), uuid4()
    await beat(presence, a, "ann")
    await beat(presence, b, "bob")
    assert (await presence.snapshot(a)).users == ["ann"]
    assert (await presence.snapshot(b)).users == ["bob"]


async def test_presence_keys_share_the_session_slot(
    presence: PresenceStore, redis_client: Redis
) -> None:
    session = uuid4()
    await beat(presence, session, "ann", device="phone")
    stored = [key async for key in redis_client.scan_iter(match="roboscope:*")]
    per_session = [key for key in stored if key != keys.presence_due(session)]
    assert sorted(per_session) == sorted(keys.presence(session))
    # The shard's due set is in the session's slot too: one script may touch all of them.
    assert {key_slot(key.encode()) for key in [*per_session, keys.presence_due(session)]} == {
        key_slot(keys.presence_devices(session).encode())
    }


async def test_devices_past_the_cap_are_refused_and_present_ones_keep_beating(
    redis_client: Redis,
) -> None:
    presence = PresenceStore(redis_client)  # the default cap
    session = uuid4()
    beats = await asyncio.gather(
        *(
            presence.heartbeat(
                session, f"user-{i // 4}", device_id=f"d{i}", display_name=None, meta=None,
                ttl_ms=LONG,
            )
            for i in range(MAX_DEVICES)
        )
    )  # fmt: skip
    assert max(beat.device_count for beat in beats) == MAX_DEVICES
    for user, device in (("user-0", "one-more"), ("newcomer", "d")):
        with pytest.raises(DevicesAtCapacity) as refused:
            await presence.heartbeat(
                session, user, device_id=device, display_name=None, meta=None, ttl_ms=LONG
            )
        assert refused.value.device_count == MAX_DEVICES
    again = await presence.heartbeat(
        session, "user-0", device_id="d0", display_name="Ann", meta=None, ttl_ms=LONG
    )
    assert (again.user_count, again.device_count) == (MAX_DEVICES // 4, MAX_DEVICES)
    snap = await presence.snapshot(session)
    assert "newcomer" not in snap.users and snap.device_count == MAX_DEVICES
    await presence.leave(session, "user-1")  # four devices leave: four may join
    for i in range(4):
        await beat(presence, session, "newcomer", device=f"n{i}")
    with pytest.raises(DevicesAtCapacity):
        await beat(presence, session, "newcomer", device="n4")


async def test_expired_devices_are_pruned_in_bounded_batches(
    presence: PresenceStore, redis_client: Redis
) -> None:
    """Each call removes at most PRUNE_BATCH expired devices (one script never runs long);
    the ones still waiting are neither counted nor listed."""
    session = uuid4()
    expired = 2 * PRUNE_BATCH + 50
    await beat(presence, session, "ann", device="phone", ttl_ms=LONG)  # keeps the keys alive
    # All beat within the TTL: the first ones must not expire before the last beat (a
    # heartbeat prunes too). 3 s leave room for a busy machine; checked below, not assumed.
    beats = await asyncio.gather(
        *(
            presence.heartbeat(
                session, f"gone-{i}", device_id="d", display_name=None, meta=None, ttl_ms=3000
            )
            for i in range(expired)
        )
    )
    first = min(beat.expires_at for beat in beats)
    assert not await redis_time_past(redis_client, first), "the beats took longer than the TTL"
    # Only the calls below prune: the session is taken off the sweepers' due set, here and in
    # the same step as each call (`alone`), so that the sweeper of an app on this Redis (a
    # test app of the same worker) never comes by between a call and its count.
    await redis_client.zrem(keys.presence_due(session), str(session))
    last = max(beat.expires_at for beat in beats)
    await until(lambda: redis_time_past(redis_client, last))
    devices = keys.presence_devices(session)
    assert await redis_client.zcard(devices) == expired + 1

    # The calls below run the scripts as the store does, with the store's batch.
    assert presence_module.PRUNE_BATCH == PRUNE_BATCH
    profile = '{"display_name":null,"meta":{}}'
    heartbeat = [PRUNE_BATCH, "ann", "phone", LONG, profile, MAX_DEVICES]
    (_, user_count, device_count), left = await alone(
        redis_client, session, "presence_heartbeat", heartbeat
    )
    assert (user_count, device_count) == (1, 1)
    assert left == expired - PRUNE_BATCH + 1
    _, left = await alone(redis_client, session, "presence_snapshot", [PRUNE_BATCH])
    assert left == expired - 2 * PRUNE_BATCH + 1
    # The last 50 expired ones go with this call (or a sweeper's): listed or not, never.
    snapshot = await presence.snapshot(session)
    assert (snapshot.users, snapshot.user_count, snapshot.device_count) == (["ann"], 1, 1)
    assert [m.devices for m in snapshot.members] == [["phone"]]
    assert await redis_client.zcard(devices) == 1
    assert await redis_client.hlen(keys.presence_users(session)) == 1
    assert (await presence.leave(session, "ann")).users == []
    assert await redis_client.exists(*keys.presence(session)) == 0


async def alone(redis: Redis, session: UUID, script: str, args: list[Any]) -> tuple[Any, int]:
    """Presence script `script` run for `session` (as its store runs it), the session taken
    off the sweepers' due set and its devices counted, in one MULTI: what the count shows is
    that one call's work, whoever else sweeps this Redis."""
    source = scripts.source_for(redis, script)
    script_keys = presence_script_keys(session)
    node = redis
    if isinstance(redis, RedisCluster):  # a cluster's pipelines run no script: the node
        primary = redis.get_node_from_key(script_keys[0])  # of the session's slot's
        assert primary is not None
        node = Redis(host=primary.host, port=primary.port, decode_responses=True)
    try:
        sha = await node.script_load(source)
        async with node.pipeline(transaction=True) as pipe:
            pipe.evalsha(sha, len(script_keys), *script_keys, *args)
            pipe.zrem(keys.presence_due(session), str(session))
            pipe.zcard(keys.presence_devices(session))
            reply, _, count = await pipe.execute()
    finally:
        if node is not redis:
            await node.aclose()
    return reply, int(count)


def test_a_store_needs_room_for_one_device(redis_client: Redis) -> None:
    with pytest.raises(ValueError):
        PresenceStore(redis_client, max_devices=0)


async def test_a_stream_start_reads_presence_and_the_lock_in_one_answer(
    presence: PresenceStore, redis_client: Redis
) -> None:
    """`with_lock` (stream_snapshot.lua) answers what `snapshot` and `LockStore.status` do."""
    locks = LockStore(redis_client)
    session = uuid4()
    empty, free = await presence.with_lock(session)
    assert (empty.users, empty.user_count, free) == ([], 0, None)

    snap = await beat(presence, session, "ann", device="phone", display_name="Ann")
    grant = await locks.acquire(session, ttl_ms=LONG, owner="ann")
    assert isinstance(grant, LockGrant)
    people, held = await presence.with_lock(session)
    assert people == snap
    assert held is not None and (held.owner, held.fence) == ("ann", grant.fence)
    assert 0 < held.ttl_remaining_ms <= LONG
    assert held.expires_at - grant.expires_at < timedelta(seconds=5)
    status = await locks.status(session)
    assert status is not None and (status.owner, status.fence) == (held.owner, held.fence)
