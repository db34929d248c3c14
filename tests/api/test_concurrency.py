"""No lost update: optimistic concurrency under real concurrent clients."""

from __future__ import annotations

import asyncio
import random

import httpx

from .conftest import Factory

CLIENTS = 10
"""Ten at once already race on every version: without the version check the same run ended
at a label of 10 (SQLite) and 16 (PostgreSQL), not 100. (Twenty cost about four times the
requests and time: every round of the race is one success for CLIENTS reads and writes.)"""
INCREMENTS = 10


async def _increment(client: httpx.AsyncClient, url: str, times: int) -> int:
    """Add 1 to the number in the label `times` times, refreshing and retrying on 409."""
    conflicts = 0
    done = 0
    while done < times:
        current = (await client.get(url)).json()
        response = await client.patch(
            url, json={"label": str(int(current["label"]) + 1), "version": current["version"]}
        )
        if response.status_code == 409:
            assert response.json()["current_version"] >= current["version"] + 1
            conflicts += 1
            await asyncio.sleep(random.uniform(0, 0.01))  # jitter, as the clients back off
            continue
        assert response.status_code == 200, response.text
        done += 1
    return conflicts


async def test_concurrent_increments_lose_nothing(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker(label="0")
    url = f"/markers/{marker['id']}"
    conflicts = await asyncio.gather(*(_increment(client, url, INCREMENTS) for _ in range(CLIENTS)))
    final = (await client.get(url)).json()
    assert final["label"] == str(CLIENTS * INCREMENTS)
    assert final["version"] == CLIENTS * INCREMENTS
    # The clients really did collide; otherwise this test proves nothing.
    assert sum(conflicts) > 0


async def test_concurrent_unchecked_patches_each_count_once(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    url = f"/work-sessions/{session['id']}"
    responses = await asyncio.gather(
        *(client.patch(url, json={"meta": {"writer": n}}) for n in range(40))
    )
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["version"] for r in responses) == list(range(1, 41))
    assert (await client.get(url)).json()["version"] == 40
