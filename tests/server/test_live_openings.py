"""Opening a stream beside other streams of its session (services/live/hub.py): the hub's own
reads stand in for the database's checks, and every rule of an opening still holds: exact
resume with Last-Event-ID, 410 for a cursor ahead of the log, the deleted session's end and
404 after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from ..servers import running_server
from .test_live import (  # noqa: F401  (fixtures)
    Subscriber,
    _session,
    _write,
    data_events,
    database_env,
    env,
    snapshots_sent,
)


async def test_streams_opened_beside_others_resume_exactly_and_end_with_the_session(
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811  (the fixture)
) -> None:
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        first = Subscriber(server.api, session)
        async with asyncio.timeout(20):
            await first.until(snapshots_sent)
        await _write(server.api, session, 2, "a")  # a marker created, then changed
        async with asyncio.timeout(20):
            await first.until(data_events(2))
        (_, created, _), (_, changed, _) = first.data()

        behind = Subscriber(server.api, session, last_event_id=created)
        current = Subscriber(server.api, session, last_event_id=changed)
        fresh = Subscriber(server.api, session)
        async with asyncio.timeout(20):
            await behind.until(data_events(1))  # the change it missed, from the log
            for stream in (current, fresh):
                await stream.until(snapshots_sent)
        assert [cursor for _, cursor, _ in behind.data()] == [changed]

        async with httpx.AsyncClient(base_url=server.api) as http:
            ahead = await http.get(
                f"/work-sessions/{session}/events", headers={"Last-Event-ID": str(10**9)}
            )
            assert ahead.status_code == 410
            streams = (first, behind, current, fresh)
            seen = [len(stream.data()) for stream in streams]
            await _write(server.api, session, 1, "b")
            async with asyncio.timeout(20):
                for stream, count in zip(streams, seen, strict=True):
                    await stream.until(data_events(count + 1))
            latest = first.data()[-1][1]
            assert [c for _, c, _ in behind.data()] == [changed, latest]
            assert [c for _, c, _ in current.data()] == [latest]
            assert [c for _, c, _ in fresh.data()] == [latest]

            assert (await http.delete(f"/work-sessions/{session}")).status_code == 204
            async with asyncio.timeout(20):
                for stream in streams:
                    await stream.until(lambda s: s.ended)
                    assert stream.events[-1][0] == "work_session.deleted"
            gone = await http.get(f"/work-sessions/{session}/events")
            assert gone.status_code == 404
