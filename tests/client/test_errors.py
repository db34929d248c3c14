"""Error answers map onto one exception family, read from the server's short JSON bodies."""

from __future__ import annotations

import uuid

import httpx
import pytest

from roboscope.client import (
    ApiError,
    AsyncClient,
    ConnectionFailed,
    Invalid,
    Locked,
    NotFound,
    RateLimited,
    Unavailable,
    VersionConflict,
    raise_for_error,
)
from roboscope.wire import MarkerCreate, MarkerUpdate

from .conftest import new_session, square


async def test_not_found(api: AsyncClient) -> None:
    with pytest.raises(NotFound) as caught:
        await api.get_marker(uuid.uuid4())
    assert caught.value.status == 404
    assert caught.value.code == "not_found"
    assert caught.value.message
    assert isinstance(caught.value.body, dict)


async def test_version_conflict_carries_the_current_version(api: AsyncClient) -> None:
    session = await new_session(api)
    marker = await api.create_marker(square(session.id))
    await api.update_marker(marker.id, MarkerUpdate(label="a", version=0))
    await api.update_marker(marker.id, MarkerUpdate(label="b", version=1))
    with pytest.raises(VersionConflict) as caught:
        await api.update_marker(marker.id, MarkerUpdate(label="stale", version=0))
    assert caught.value.status == 409
    assert caught.value.code == "version_conflict"
    assert caught.value.current_version == 2
    assert (await api.get_marker(marker.id)).label == "b"


async def test_invalid_reference_and_validation_error(api: AsyncClient) -> None:
    with pytest.raises(Invalid) as caught:
        await api.create_marker(square(uuid.uuid4()))
    assert caught.value.status == 422 and caught.value.code == "invalid_reference"

    # The wire models refuse a 2-number point before sending; bypass them to see the server.
    session = await new_session(api)
    bad = MarkerCreate.model_construct(**square(session.id).__dict__)
    bad.p1 = [0, 0]
    with pytest.raises(Invalid) as caught:
        await api.create_marker(bad)
    assert caught.value.status == 422 and caught.value.code == "validation_error"
    assert await api.list_markers(work_session_id=session.id) == []


async def test_stale_lock_token_is_locked(api: AsyncClient) -> None:
    session = await new_session(api)
    marker = await api.create_marker(square(session.id))
    grant = await api.acquire_lock(session.id, 30)
    assert grant.token is not None
    await api.update_marker(marker.id, MarkerUpdate(label="held"), lock_token=grant.token)
    assert (await api.release_lock(session.id, grant.token)).released
    with pytest.raises(Locked) as caught:
        await api.update_marker(marker.id, MarkerUpdate(label="late"), lock_token=grant.token)
    assert caught.value.status == 423 and caught.value.code == "locked"
    assert (await api.get_marker(marker.id)).label == "held"


def _answer(status: int, body: object = None, headers: dict[str, str] | None = None) -> None:
    request = httpx.Request("GET", "http://x/api/v1/anything")
    response = httpx.Response(status, json=body, headers=headers, request=request)
    raise_for_error(response)


def test_mapping_of_other_statuses() -> None:
    """Statuses the app cannot easily be made to answer (an outage, a proxy's HTML page)."""
    with pytest.raises(Unavailable) as unavailable:
        _answer(503, {"error": "service_unavailable", "message": "redis"}, {"Retry-After": "2"})
    assert unavailable.value.retry_after == 2.0
    with pytest.raises(RateLimited) as limited:
        body = {"error": "rate_limited", "message": "too many writes", "budget": "writes"}
        _answer(429, body, {"Retry-After": "3"})
    assert limited.value.retry_after == 3.0 and limited.value.code == "rate_limited"
    with pytest.raises(Invalid) as too_large:
        _answer(413, {"error": "body_too_large", "message": "too large"})
    assert too_large.value.code == "body_too_large"
    with pytest.raises(Invalid):
        _answer(400, {"error": "invalid_json", "message": "bad"})
    with pytest.raises(ApiError) as gateway:
        _answer(502, "<html>bad gateway</html>")
    assert type(gateway.value) is ApiError and gateway.value.code == "http_502"


async def test_unreachable_server_is_connection_failed() -> None:
    async with AsyncClient("http://127.0.0.1:9", timeout=2.0) as api:
        with pytest.raises(ConnectionFailed):
            await api.health()
