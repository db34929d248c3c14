"""A lock token is a secret of its holder: only the answers to its own acquire and extend
carry it. Not lock status (either route family), presence, the change log, the live stream
(snapshots and events), error answers (also to requests that sent it), nor the server's log."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from ..servers import running_server

SQUARE = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}


class RawStream:
    """Everything a live stream sends, as text, read in the background."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.text = ""
        self._task = asyncio.create_task(self._read(http, url))

    async def _read(self, http: httpx.AsyncClient, url: str) -> None:
        async with http.stream("GET", url) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_text():
                self.text += chunk

    async def until(self, *names: str) -> None:
        async with asyncio.timeout(20):
            while not all(f"event: {name}" in self.text for name in names):
                assert not self._task.done(), self.text
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_no_answer_event_or_log_line_but_the_holder_s_shows_the_token(
    tmp_path: Path, shared_redis_url: str
) -> None:
    env = {"ROBOSCOPE_REDIS_URL": shared_redis_url}
    seen: list[tuple[str, str]] = []  # (what, text) of everything that must not hold it
    with running_server(tmp_path, env=env, log_level="debug") as server:
        timeout = httpx.Timeout(10, read=None)
        async with httpx.AsyncClient(base_url=server.api, timeout=timeout) as http:

            async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
                answer = await http.request(method, url, **kwargs)  # type: ignore[arg-type]
                seen.append((f"{method} {url} -> {answer.status_code}", answer.text))
                return answer

            space = await call("POST", "/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "S"})
            body = {"space_id": space.json()["id"], "session_type": "inspection"}
            session = (await call("POST", "/work-sessions", json=body)).json()["id"]
            before = RawStream(http, f"/work-sessions/{session}/events")
            await before.until("lock.snapshot")

            # The holder's own answers: the only ones that carry the token.
            grant = await http.post(f"/locks/{session}", json={"ttl_seconds": 30, "owner": "ann"})
            token = grant.json()["token"]
            assert grant.json()["acquired"] is True and len(token) >= 32
            extended = await http.post(
                f"/locks/{session}/extend", json={"token": token, "ttl_seconds": 30}
            )
            assert extended.json()["extended"] is True

            after = RawStream(http, f"/work-sessions/{session}/events")
            await after.until("lock.snapshot")
            fenced = {"X-Lock-Token": token}
            await call("GET", f"/locks/{session}")
            await call("GET", f"/locks/work-sessions/{session}/status")
            contended = await call("POST", f"/locks/work-sessions/{session}", json={})
            assert contended.json()["acquired"] is False
            await call("POST", f"/presence/{session}", json={"user_id": "ann"}, headers=fenced)
            await call("GET", f"/presence/{session}")
            marker = await call(
                "POST", "/markers", json={"work_session_id": session, **SQUARE}, headers=fenced
            )
            assert marker.status_code == 201
            marker_id = marker.json()["id"]
            await call("PATCH", f"/markers/{marker_id}", json={"label": "a"}, headers=fenced)
            # Refusals of requests that carried the token.
            bad_ttl = await call(
                "POST", f"/locks/{session}/extend", json={"token": token, "ttl_seconds": -1}
            )
            assert bad_ttl.status_code == 422
            bad_body = await call(
                "PATCH", f"/markers/{marker_id}", json={"p1": token}, headers=fenced
            )
            assert bad_body.status_code == 422
            stale = await call(
                "PATCH", f"/markers/{marker_id}", json={"label": "b", "version": 99}, headers=fenced
            )
            assert stale.status_code == 409
            elsewhere = await call(
                "POST", "/markers", json={"work_session_id": str(uuid.uuid4()), **SQUARE},
                headers=fenced,
            )  # fmt: skip
            assert elsewhere.status_code in {404, 422, 423}
            wrong = await call("POST", f"/locks/{session}/extend", json={"token": token[::-1]})
            assert wrong.json()["extended"] is False
            # The change log, then the release.
            await call("GET", "/events")
            await call("GET", f"/work-sessions/{session}/changes")
            released = await call("DELETE", f"/locks/{session}", json={"token": token})
            assert released.json() == {"released": True}
            await call("GET", f"/locks/{session}")
            await before.until("lock.acquired", "lock.extended", "lock.released", "marker.updated")
            await after.until("lock.released")
            await before.close()
            await after.close()
            seen.append(("stream opened before the grant", before.text))
            seen.append(("stream opened while held", after.text))
    seen.append(("server log", server.log.read_text(errors="replace")))
    assert "lock.acquired" in before.text  # the stream did see the lock's events
    assert "GET /api/v1/locks" in seen[-1][1]  # the log is at debug level: requests are in it
    for what, text in seen:
        assert token not in text, f"{what} shows the lock token"
