"""What holds when Redis fails under load: a Sentinel primary killed with SIGKILL, a Redis
Cluster slot migrated with `redis-cli --cluster reshard`, a cluster primary killed and its
replica promoted. Real `redis-server` processes (tests/redis_topologies.py), real API
processes on PostgreSQL, and the lock-safety load of tests/failover.py: workers taking the
lock of a work session and making fenced read-modify-write increments, heartbeats, one live
stream per session.

Asserted every time: no lost update, no stale write accepted, no 5xx but the documented 503
(and none at all while a slot moves), presence and locks answering again within
`ANSWER_AGAIN_WITHIN` seconds of a kill, and every change delivered on the live streams. The
figures of a run are printed (`pytest -s`); docs/realtime.md quotes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from redis.crc import key_slot
from sqlalchemy.engine import make_url

from roboscope.db.migrate import upgrade
from roboscope.realtime import keys

from ..conftest import create_postgres_database, require_service, require_topologies
from ..failover import (
    Call,
    Figures,
    Grant,
    LoadRecord,
    LockSafetyLoad,
    Write,
    prepare_sessions,
)
from ..redis_topologies import Cluster, redis_cluster, sentinel_set
from ..servers import running_server

ANSWER_AGAIN_WITHIN = 15.0
"""Seconds from a kill until presence and locks answer again: sentinels (or the cluster's
nodes) notice a dead primary after 1 s here and promote its replica; the rest is a loaded
CI machine's margin. Production's `down-after-milliseconds` (or `cluster-node-timeout`)
adds to it one for one."""

WARM_UP = 10
"""Increments acknowledged before the fault."""

STEADY_AFTER = 3.0
"""Seconds of load without a failure that end a test after the fault."""


@pytest.fixture
def database_env() -> Iterator[dict[str, str]]:
    shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    url = create_postgres_database(shared, f"{shared.database}_failover", fresh=True)
    upgrade(url)
    yield {
        "ROBOSCOPE_DATABASE_URL": url,
        "ROBOSCOPE_LIVE_POLL_SECONDS": "0.5",
        "ROBOSCOPE_REDIS_TIMEOUT_SECONDS": "1",
    }


def _assert_safe(figures: Figures, *, fault: bool) -> None:
    print(f"\n{figures.summary()}")
    assert figures.acked_increments > 0
    assert figures.lost_updates == 0
    assert figures.stale_writes_accepted == 0
    assert figures.unknown_writes == 0
    assert figures.server_errors == 0
    assert figures.missed_changes == 0
    if fault:
        assert figures.time_to_answer_again is not None
        assert figures.time_to_answer_again <= ANSWER_AGAIN_WITHIN


def _steady(load: LockSafetyLoad, since: float) -> bool:
    """No failure for `STEADY_AFTER` seconds, and increments made in that time."""
    last = max(since, load.record.last_failure() or since)
    return time.monotonic() - last >= STEADY_AFTER and any(
        w.started > last and 200 <= w.status < 300 for w in load.record.writes
    )


async def test_a_sentinel_primary_killed_under_lock_load(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    """Over TLS, with a password on the data nodes and one on the sentinels (the URL's
    `sentinel_password`)."""
    require_topologies(tls=True)
    with (
        sentinel_set(password="s3cret/pw", tls=True) as topology,
        running_server(
            tmp_path / "api", env={**database_env, "ROBOSCOPE_REDIS_URL": topology.url}
        ) as api,
    ):
        [summary] = [line for line in api.log.read_text().splitlines() if "roboscope " in line]
        assert "(Redis Sentinel over TLS, primary mymaster, 3 sentinels)" in summary
        assert "s3cret" not in api.log.read_text()
        async with httpx.AsyncClient(base_url=api.api) as http:
            markers = await prepare_sessions(http, 4)
            ready = (await http.get("/health/ready")).json()
            assert ready["redis_kind"] == "sentinel"
            primary, replica = topology.primary(), topology.replica()
            assert ready["redis_nodes"][0] == {"address": primary.address, "role": "primary"}
        async with LockSafetyLoad([api.api], markers) as load:
            await load.run_until(lambda: load.acknowledged() >= WARM_UP, within=60)
            primary.kill()
            load.record.failed_at = killed = time.monotonic()
            await load.run_until(lambda: _steady(load, killed), within=60)
        async with httpx.AsyncClient(base_url=api.api) as http:
            ready = (await http.get("/health/ready")).json()
        assert ready["redis_nodes"][0] == {"address": replica.address, "role": "primary"}
    _assert_safe(load.record.figures(), fault=True)


# -- Redis Cluster -----------------------------------------------------------------------------


def _slot(session: str) -> int:
    return key_slot(keys.lock(UUID(session)).encode())


async def test_a_cluster_slot_moves_under_lock_load(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    """The load's sessions all live in one slot; `redis-cli --cluster reshard` moves it (and
    the slots before it on its primary) to another primary while the load runs. Commands
    redirected (MOVED, ASK) or asked to try again (TRYAGAIN, while a session's keys are split
    between the two nodes) are retried inside the server: no 5xx at all."""
    require_topologies()
    with redis_cluster() as cluster:
        await _moving_slot(tmp_path, cluster, database_env)


async def _moving_slot(tmp_path: Path, cluster: Cluster, database_env: dict[str, str]) -> None:
    env = {**database_env, "ROBOSCOPE_REDIS_URL": cluster.url}
    primaries = [row for row in cluster.shards() if row["primary"]]
    first_of = {slot: min(p["slots"]) for p in primaries for slot in p["slots"]}
    # The shard (its due set is in its slot) whose slot is closest to the start of its
    # primary's range: the fewest empty slots move with it.
    shard_slots = [key_slot(due.encode()) for due in keys.locks_due_sets()]
    target_slot = min(shard_slots, key=lambda slot: slot - first_of[slot])
    source = next(p for p in primaries if target_slot in p["slots"])
    destination = next(p for p in primaries if p["id"] != source["id"])
    count = target_slot - first_of[target_slot] + 1
    with (
        running_server(tmp_path / "a", env=env) as a,
        running_server(tmp_path / "b", env=env) as b,
    ):
        async with httpx.AsyncClient(base_url=a.api) as http:
            markers = await prepare_sessions(http, 2, accept=lambda s: _slot(s) == target_slot)
        async with LockSafetyLoad([a.api, b.api], markers) as load:
            await load.run_until(lambda: load.acknowledged() >= WARM_UP, within=60)
            moving = time.monotonic()
            cluster.reshard(str(source["id"]), str(destination["id"]), count)
            assert cluster.owner(target_slot)["id"] == destination["id"]
            await load.run_until(lambda: _steady(load, moving), within=60)
    _assert_safe(load.record.figures(), fault=False)
    assert load.record.figures().unavailable_answers == 0


async def test_a_cluster_primary_killed_under_lock_load(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    """The primary serving the load's sessions dies (SIGKILL); its replica takes over."""
    require_topologies()
    with redis_cluster(node_timeout_ms=1000) as cluster:
        await _killed_primary(tmp_path, cluster, database_env)


async def _killed_primary(tmp_path: Path, cluster: Cluster, database_env: dict[str, str]) -> None:
    env = {**database_env, "ROBOSCOPE_REDIS_URL": cluster.url}
    with (
        running_server(tmp_path / "a", env=env) as a,
        running_server(tmp_path / "b", env=env) as b,
    ):
        async with httpx.AsyncClient(base_url=a.api) as http:
            first = await prepare_sessions(http, 1)
            victim = cluster.owner(_slot(next(iter(first))))
            served = set(victim["slots"])
            markers = {
                **first,
                **await prepare_sessions(http, 2, accept=lambda s: _slot(s) in served),
            }
        async with LockSafetyLoad([a.api, b.api], markers) as load:
            await load.run_until(lambda: load.acknowledged() >= WARM_UP, within=60)
            cluster.node(str(victim["address"])).kill()
            load.record.failed_at = killed = time.monotonic()
            await load.run_until(lambda: _steady(load, killed), within=60)
        cluster.wait_healthy(30)
        async with httpx.AsyncClient(base_url=b.api) as http:
            ready = (await http.get("/health/ready")).json()
        assert ready["status"] == "ready" and ready["redis_kind"] == "cluster"
        assert victim["address"] not in [
            n["address"] for n in ready["redis_nodes"] if n["role"] == "primary"
        ]
    _assert_safe(load.record.figures(), fault=True)


def test_the_figures_catch_what_they_count() -> None:
    """The checks above can fail: a record with one of everything they look for."""
    record = LoadRecord({"s": "marker"})
    record.grants = [
        Grant("s", holder=1, fence=10, requested=0.0, answered=0.1),  # never released
        Grant("s", holder=2, fence=20, requested=0.5, answered=0.6, released=0.9),
    ]
    record.writes = [
        Write("s", fence=10, started=0.7, status=200),  # after the newer grant: stale
        Write("s", fence=20, started=0.8, status=200),
        Write("s", fence=10, started=0.85, status=423),  # stale, refused
    ]
    record.acked, record.final_labels = {"s": 2}, {"s": 1}  # one increment lost
    record.final_versions, record.streamed_versions = {"s": 2}, {"s": {1}}  # one not streamed
    record.failed_at = 1.0  # a call that waited through the outage counts until it ends
    record.calls = [
        Call("heartbeat", "s", started=1.0, ended=3.5, status=200),
        Call("acquire", "s", started=1.1, ended=1.2, status=503),
        Call("heartbeat", "s", started=1.3, ended=1.4, status=200),
    ]
    figures = record.figures()
    assert figures.time_to_answer_again == 2.5
    assert figures.stale_writes_accepted == 1 and figures.stale_writes_refused == 1
    assert figures.overlapping_holders == 1
    assert figures.lost_updates == 1 and figures.missed_changes == 1
