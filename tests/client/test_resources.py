"""Every resource family through the async SDK, against the real app (SQLite and PostgreSQL):
inputs are the wire Create/Update models and outputs parse into the wire response models."""

from __future__ import annotations

import uuid

import pytest

from roboscope.client import AsyncClient, Conflict, NotFound
from roboscope.wire import (
    AnchorUpdate,
    AnchorUpsert,
    GridLine,
    LaserGuidePut,
    MarkerDetailsPut,
    MarkerUpdate,
    ReferenceMarkerInput,
    ReferenceSetCreate,
    ReferenceSetUpdate,
    SessionType,
    SpaceCreate,
    SpaceUpdate,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)

from ..api.conftest import SQUARE
from .conftest import new_session, new_space, square


async def test_health(api: AsyncClient) -> None:
    health = await api.health()
    assert health.status == "ok"
    assert health.database == "up"


async def test_whoami(api: AsyncClient) -> None:
    """With auth off (the shared app): no token, every right."""
    me = await api.whoami()
    assert (me.auth, me.token, me.scope) == ("off", None, "admin")


async def test_spaces(api: AsyncClient) -> None:
    space = await api.create_space(SpaceCreate(key="hall-a", name="Hall A", description="d"))
    assert await api.get_space(space.id) == space
    assert await api.get_space(str(space.id).upper()) == space  # ids in any case
    assert [s.id for s in await api.list_spaces(key="hall-a")] == [space.id]
    assert await api.list_spaces(key="nope") == []

    # PATCH sends only what was set: an explicit None clears, absent fields stay.
    cleared = await api.update_space(space.id, SpaceUpdate(description=None))
    assert cleared.description is None and cleared.name == "Hall A"
    await api.update_space(space.id, SpaceUpdate(is_active=False))
    assert await api.list_spaces() == []
    assert [s.id for s in await api.list_spaces(include_inactive=True)] == [space.id]

    await api.delete_space(space.id)
    with pytest.raises(NotFound):
        await api.get_space(space.id)


async def test_work_sessions(api: AsyncClient) -> None:
    space = await new_space(api)
    session = await api.create_work_session(
        WorkSessionCreate(space_id=space.id, session_type=SessionType.repair)
    )
    assert session.status is WorkSessionStatus.draft and session.version == 0
    assert await api.get_work_session(session.id) == session

    started = await api.update_work_session(
        session.id, WorkSessionUpdate(status=WorkSessionStatus.active, version=0)
    )
    assert started.status is WorkSessionStatus.active and started.version == 1
    listed = await api.list_work_sessions(
        space_id=space.id, status=WorkSessionStatus.active, session_type=SessionType.repair
    )
    assert [s.id for s in listed] == [session.id]
    assert await api.list_work_sessions(space_id=space.id, status=WorkSessionStatus.done) == []

    await api.delete_work_session(session.id)
    with pytest.raises(NotFound):
        await api.get_work_session(session.id)


async def test_markers(api: AsyncClient) -> None:
    session = await new_session(api)
    other = await new_session(api)
    meta = {"k": 1, "gone": None, "list": [None]}  # JSON nulls inside objects are data
    marker = await api.create_marker(square(session.id, label="A", meta=meta))
    assert marker.version == 0 and marker.meta == meta and marker.p1 == SQUARE["p1"]
    bulk = await api.create_markers([square(session.id, label="B"), square(other.id, label="C")])
    assert [m.label for m in bulk] == ["B", "C"]

    listed = await api.list_markers(work_session_id=session.id)
    assert {m.label for m in listed} == {"A", "B"}
    assert len(await api.list_markers()) == 3
    assert await api.list_markers(work_session_id=uuid.uuid4()) == []

    moved = await api.update_marker(marker.id, MarkerUpdate(p1=[0.5, 0, 0], version=0))
    assert moved.version == 1 and moved.p1 == [0.5, 0, 0] and moved.label == "A"
    assert await api.get_marker(marker.id) == moved

    await api.delete_marker(marker.id)
    with pytest.raises(NotFound):
        await api.get_marker(marker.id)


async def test_marker_details(api: AsyncClient) -> None:
    session = await new_session(api)
    marker = await api.create_marker(square(session.id))
    with pytest.raises(NotFound):
        await api.get_marker_details(marker.id)

    calculated = await api.calculate_marker_details(marker.id)
    assert calculated.marker_id == marker.id
    assert await api.get_marker_details(marker.id) == calculated
    assert (await api.get_marker(marker.id)).version == 0  # calculate never bumps it

    values = {
        "center_location_long": 1.0,
        "center_location_cross": 1.0,
        "x_negative": 1.0,
        "x_positive": 1.0,
        "z_positive": 1.0,
        "z_negative": 1.0,
        "long_size": 1.0,
        "cross_size": 1.0,
    }
    stored = await api.put_marker_details(
        marker.id, MarkerDetailsPut.model_validate({**values, "custom_props": {"by": "sdk"}})
    )
    assert stored.long_size == 1.0 and stored.custom_props == {"by": "sdk"}

    await api.delete_marker_details(marker.id)
    with pytest.raises(NotFound):
        await api.get_marker_details(marker.id)


async def test_anchors(api: AsyncClient) -> None:
    session = await new_session(api)
    anchor = await api.upsert_anchor(
        AnchorUpsert(session_id=session.id, run=1, local_z=2.0, world_position=[1, 2, 3])
    )
    again = await api.upsert_anchor(
        AnchorUpsert(session_id=session.id, run=1, local_z=2, world_position=[4, 5, 6])
    )
    assert again.id == anchor.id and again.world_position == [4, 5, 6]
    assert [a.id for a in await api.list_anchors(session_id=session.id)] == [anchor.id]

    moved = await api.update_anchor(anchor.id, AnchorUpdate(world_position=[7, 8, 9]))
    assert moved.world_position == [7, 8, 9]
    assert await api.get_anchor(anchor.id) == moved

    await api.delete_anchor(anchor.id)
    assert await api.list_anchors(session_id=session.id) == []


async def test_laser_guides(api: AsyncClient) -> None:
    space = await new_space(api)
    with pytest.raises(NotFound):
        await api.get_laser_guide(space.id)
    guide = await api.put_laser_guide(
        space.id, LaserGuidePut(grid=[GridLine(x=0, z=1, segment_length=2)], meta={"v": 1})
    )
    assert guide.space_id == space.id and guide.grid[0].segment_length == 2
    assert await api.get_laser_guide(space.id) == guide
    await api.delete_laser_guide(space.id)
    with pytest.raises(NotFound):
        await api.get_laser_guide(space.id)


async def test_reference_sets(api: AsyncClient) -> None:
    space = await new_space(api)
    assert await api.list_reference_sets(space.id) == []
    created = await api.create_reference_set(
        space.id,
        ReferenceSetCreate(
            name="Set", markers=[ReferenceMarkerInput.model_validate({**SQUARE, "label": "r"})]
        ),
    )
    assert created.version == 0 and created.markers[0].label == "r"
    assert [s.id for s in await api.list_reference_sets(space.id)] == [created.id]

    renamed = await api.update_reference_set(
        created.id, ReferenceSetUpdate(name="Renamed", version=0)
    )
    assert renamed.name == "Renamed" and renamed.version == 1
    assert await api.get_reference_set(created.id) == renamed

    await api.delete_reference_set(created.id)
    with pytest.raises(NotFound):
        await api.get_reference_set(created.id)


async def test_presence_calls(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    user = "Team/A user?#"  # verbatim, even with characters that mean something in a URL
    beat = await api.heartbeat(session_id, user, device_id="ipad", display_name="Ann")
    assert (beat.user_id, beat.device_id, beat.user_count, beat.device_count) == (
        user,
        "ipad",
        1,
        1,
    )
    await api.heartbeat(session_id, "bob")
    listed = await api.list_presence(session_id)
    assert listed.users == [user, "bob"]
    assert listed.members[0].display_name == "Ann"

    left = await api.leave(session_id, user)
    assert left.users == ["bob"]
    assert (await api.list_presence(session_id)).users == ["bob"]


async def test_lock_calls(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    grant = await api.acquire_lock(session_id, 30, owner="ann")
    assert grant.acquired and grant.token is not None and grant.owner == "ann"

    contended = await api.acquire_lock(session_id, 30)
    assert not contended.acquired and contended.token is None

    status = await api.lock_status(session_id)
    assert status.locked and status.owner == "ann" and status.fence == grant.fence

    extended = await api.extend_lock(session_id, grant.token, 60)
    assert extended.extended and extended.acquired
    assert not (await api.extend_lock(session_id, "not-the-token")).extended

    assert not (await api.release_lock(session_id, "not-the-token")).released
    assert (await api.release_lock(session_id, grant.token)).released
    assert not (await api.lock_status(session_id)).locked


async def test_duplicate_space_key_names_the_key(api: AsyncClient) -> None:
    await api.create_space(SpaceCreate(key="hall-dup", name="first"))
    with pytest.raises(Conflict) as caught:
        await api.create_space(SpaceCreate(key="hall-dup", name="second"))
    assert caught.value.status == 409 and "'hall-dup'" in caught.value.message
    other = await api.create_space(SpaceCreate(key="hall-other", name="other"))
    with pytest.raises(Conflict) as caught:
        await api.update_space(other.id, SpaceUpdate(key="hall-dup"))
    assert "'hall-dup'" in caught.value.message
    assert (await api.get_space(other.id)).key == "hall-other"
