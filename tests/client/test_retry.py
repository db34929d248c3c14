"""Retry-on-conflict with real concurrency: every updater's change lands exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from roboscope.client import AsyncClient, VersionConflict, update_with_retry
from roboscope.wire import Marker, MarkerUpdate, WorkSession, WorkSessionUpdate

from .conftest import new_session, square

UPDATERS = 10


async def test_concurrent_updaters_all_land(api: AsyncClient) -> None:
    session = await new_session(api)
    marker = await api.create_marker(square(session.id, custom_props={"total": 0}))

    def add(amount: int) -> Callable[[Marker], MarkerUpdate]:
        def mutate(fresh: Marker) -> MarkerUpdate:
            total = fresh.custom_props["total"]
            assert isinstance(total, int)
            return MarkerUpdate(custom_props={**fresh.custom_props, "total": total + amount})

        return mutate

    # Ten updaters race on one marker: each conflict costs a retry, so allow enough of them
    # for the unluckiest one; the claim under test is that none is lost or applied twice.
    results = await asyncio.gather(
        *(
            api.update_marker_with_retry(marker.id, add(n), max_attempts=50)
            for n in range(1, UPDATERS + 1)
        )
    )
    final = await api.get_marker(marker.id)
    assert final.custom_props["total"] == sum(range(1, UPDATERS + 1))
    assert final.version == UPDATERS
    assert sorted(result.version for result in results) == list(range(1, UPDATERS + 1))


async def test_gives_up_after_max_attempts(api: AsyncClient) -> None:
    """A competitor that always edits between our read and our write wins every time."""
    session = await new_session(api)
    attempts = 0

    async def get() -> WorkSession:
        nonlocal attempts
        attempts += 1
        fresh = await api.get_work_session(session.id)
        await api.update_work_session(session.id, WorkSessionUpdate(meta={"other": attempts}))
        return fresh

    async def update(patch: WorkSessionUpdate) -> WorkSession:
        return await api.update_work_session(session.id, patch)

    with pytest.raises(VersionConflict) as caught:
        await update_with_retry(
            get, update, lambda _: WorkSessionUpdate(meta={"mine": True}), max_attempts=3
        )
    assert attempts == 3
    assert caught.value.current_version == 3
    assert "mine" not in (await api.get_work_session(session.id)).meta


async def test_no_change_sends_nothing(api: AsyncClient) -> None:
    session = await new_session(api)
    same = await api.update_work_session_with_retry(session.id, lambda _: None)
    assert same.version == 0
    assert (await api.get_work_session(session.id)).version == 0
