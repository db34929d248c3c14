"""Device ids are opaque text: they travel verbatim (case kept) in the leave query, through
the async SDK, its presence helper, the blocking client and the CLI."""

from __future__ import annotations

import uuid

from roboscope.client import AsyncClient, Client


async def test_leave_one_device_keeps_the_others(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    await api.heartbeat(session_id, "ann", device_id="iPad-Ann")
    await api.heartbeat(session_id, "ann", device_id="iphone")
    left = await api.leave(session_id, "ann", device_id="iPad-Ann")
    assert left.users == ["ann"]
    assert left.members[0].devices == ["iphone"]
    left = await api.leave(session_id, "ann", device_id="iphone")
    assert left.users == []


async def test_presence_session_with_a_device_leaves(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    async with api.presence(session_id, "ann", device_id="iPad", interval=60) as here:
        assert await here.users() == ["ann"]
    assert here.last_error is None
    assert (await api.list_presence(session_id)).users == []


def test_blocking_leave_with_a_device(server_url: str) -> None:
    session_id = uuid.uuid4()
    with Client(server_url) as client:
        client.heartbeat(session_id, "ann", device_id="iPad")
        assert client.leave(session_id, "ann", device_id="iPad").users == []
