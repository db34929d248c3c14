"""Live streams against real server processes (in-process clients buffer whole responses):
exactly-once delivery under concurrent writers, resume with Last-Event-ID, fan-out across
processes, the end of a deleted session's stream, and a stalled consumer's bounded cost."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from roboscope.db.engine import Database
from roboscope.db.migrate import upgrade
from roboscope.realtime import EmbeddedRedis
from roboscope.server.state import app_state
from roboscope.services import markers
from roboscope.services.access import anonymous
from roboscope.settings import Settings
from roboscope.wire import MarkerCreate

from ..conftest import create_postgres_database, require_service
from ..servers import ServerProcess, running_server
from ..waiting import until

SQUARE = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
Json = dict[str, Any]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated database of the test's own that several server processes can share."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    else:
        shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
        url = create_postgres_database(shared, f"{shared.database}_live", fresh=True)
    upgrade(url)
    yield {"ROBOSCOPE_DATABASE_URL": url}


@pytest.fixture
def env(database_env: dict[str, str], shared_redis_url: str) -> dict[str, str]:
    return {**database_env, "ROBOSCOPE_REDIS_URL": shared_redis_url}


async def _session(api: str) -> str:
    async with httpx.AsyncClient(base_url=api) as http:
        space = await http.post("/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "S"})
        body = {"space_id": space.json()["id"], "session_type": "inspection"}
        session: str = (await http.post("/work-sessions", json=body)).json()["id"]
        return session


class Subscriber:
    """Reads one stream in the background; `events` grows as they arrive."""

    def __init__(self, api: str, session_id: str, last_event_id: str | None = None) -> None:
        self.events: list[tuple[str, str, Json]] = []  # (event, id, data)
        self.ended = False
        self._arrived = asyncio.Event()
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        self._task = asyncio.create_task(self._read(api, session_id, headers))

    async def _read(self, api: str, session_id: str, headers: dict[str, str]) -> None:
        url = f"/work-sessions/{session_id}/events"
        try:
            async with (
                httpx.AsyncClient(base_url=api, timeout=httpx.Timeout(10, read=None)) as http,
                aconnect_sse(http, "GET", url, headers=headers) as sse,
            ):
                assert sse.response.status_code == 200
                async for event in sse.aiter_sse():
                    self.events.append((event.event, event.id, event.json()))
                    self._arrived.set()
        finally:
            self.ended = True
            self._arrived.set()

    def data(self) -> list[tuple[str, str, Json]]:
        return [e for e in self.events if e[1]]

    async def until(self, done: Callable[[Subscriber], bool]) -> None:
        """Wait (bounded by the caller) until `done(self)`; a stream that ends first fails."""
        while not done(self):
            if self._task.done():
                self._task.result()
                if not done(self):
                    raise AssertionError(f"stream ended after {self.events}")
            self._arrived.clear()
            await self._arrived.wait()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def data_events(count: int) -> Callable[[Subscriber], bool]:
    return lambda s: len(s.data()) >= count


def snapshots_sent(s: Subscriber) -> bool:
    return len(s.events) >= 2


async def _write(api: str, session_id: str, mutations: int, label: str) -> list[tuple[str, int]]:
    """One marker created, then PATCHed: `mutations` writes; answers (id, version) of each."""
    async with httpx.AsyncClient(base_url=api) as http:
        body = {"work_session_id": session_id, **SQUARE, "label": label}
        marker = (await http.post("/markers", json=body)).json()
        written = [(marker["id"], 0)]
        for step in range(mutations - 1):
            patched = await http.patch(f"/markers/{marker['id']}", json={"label": f"{label}{step}"})
            assert patched.status_code == 200, patched.text
            written.append((marker["id"], patched.json()["version"]))
        return written


async def test_one_subscriber_sees_every_change_of_8_writers_exactly_once_and_resumes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        watcher = Subscriber(server.api, session)
        async with asyncio.timeout(20):
            await watcher.until(snapshots_sent)
        assert [e[0] for e in watcher.events[:2]] == ["presence.snapshot", "lock.snapshot"]

        counts = [63] * 4 + [62] * 4  # 500 mutations
        written = await asyncio.gather(
            *(_write(server.api, session, n, f"w{i}-") for i, n in enumerate(counts))
        )
        async with asyncio.timeout(60):
            await watcher.until(data_events(500))
        got = [(d["id"], d["version"]) for _, _, d in watcher.data()]
        assert len(got) == len(set(got)) == 500
        assert sorted(got) == sorted(p for one in written for p in one)
        for one in written:  # each marker's versions in order
            marker_id = one[0][0]
            assert [v for m, v in got if m == marker_id] == list(range(len(one)))
        last_id = watcher.data()[-1][1]
        await watcher.close()
        # The catch-up endpoint agrees with the stream, change for change.
        async with httpx.AsyncClient(base_url=server.api) as http:
            caught: list[tuple[str, str, Json]] = []
            since = int(watcher.data()[0][1]) - 1
            while True:
                url = f"/work-sessions/{session}/changes"
                page = (await http.get(url, params={"since": since})).json()
                caught += [
                    (f"{c['entity']}.{c['op']}", str(c["cursor"]), c["data"])
                    for c in page["changes"]
                ]
                since = page["cursor"]
                if not page["has_more"]:
                    break
        assert caught == watcher.data()

        missed = await _write(server.api, session, 50, "late-")
        resumed = Subscriber(server.api, session, last_event_id=last_id)
        async with asyncio.timeout(20):
            await resumed.until(data_events(50))
        await _write(server.api, session, 1, "after-")
        async with asyncio.timeout(20):
            await resumed.until(data_events(51))
        events = resumed.data()
        assert [(d["id"], d["version"]) for _, _, d in events[:50]] == missed
        assert events[50][2]["label"] == "after-"
        # Nothing more (no repeat) before the next change: the stream is in change order.
        await _write(server.api, session, 1, "last-")
        async with asyncio.timeout(20):
            await resumed.until(data_events(52))
        assert [d["label"] for _, _, d in resumed.data()[50:]] == ["after-", "last-"]
        await resumed.close()


async def test_snapshot_and_stream_stitch_without_a_gap_or_a_repeat(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A client loads the list while 4 writers keep writing, then streams from the list's
    cursor: every write after the snapshot arrives once, none from before it."""
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        writers = asyncio.gather(*(_write(server.api, session, 30, f"w{i}-") for i in range(4)))
        async with httpx.AsyncClient(base_url=server.api) as http:

            async def writing() -> bool:  # the snapshot is read while the writers are busy
                listed = await http.get("/markers", params={"work_session_id": session})
                return len(listed.json()) == 4

            await until(writing)
            listed = await http.get("/markers", params={"work_session_id": session})
            cursor = listed.headers["x-roboscope-cursor"]
            view = {m["id"]: m for m in listed.json()}
            watcher = Subscriber(server.api, session, last_event_id=cursor)
            written = await writers
            total = sum(len(one) for one in written)
            seen_before = sum(m["version"] + 1 for m in view.values())
            async with asyncio.timeout(30):
                await watcher.until(data_events(total - seen_before))
            for _, _, marker in watcher.data():
                old = view.get(marker["id"])
                # each event is the next version of what the client holds: no gap, no repeat
                assert marker["version"] == (-1 if old is None else old["version"]) + 1
                view[marker["id"]] = marker
            final = await http.get("/markers", params={"work_session_id": session})
            assert view == {m["id"]: m for m in final.json()}
            await watcher.close()


async def test_a_write_on_one_process_reaches_a_subscriber_on_another(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with (
        running_server(tmp_path / "a", env=env) as a,
        running_server(tmp_path / "b", env=env) as b,
    ):
        session = await _session(a.api)
        watcher = Subscriber(b.api, session)
        async with asyncio.timeout(20):
            await watcher.until(snapshots_sent)
        written = await _write(a.api, session, 3, "from-a-")
        async with asyncio.timeout(20):
            await watcher.until(data_events(3))
        assert [(d["id"], d["version"]) for _, _, d in watcher.data()] == written
        await watcher.close()


async def test_deleting_the_session_ends_its_stream(tmp_path: Path, env: dict[str, str]) -> None:
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        watcher = Subscriber(server.api, session)
        async with asyncio.timeout(20):
            await watcher.until(snapshots_sent)
        async with httpx.AsyncClient(base_url=server.api) as http:
            assert (await http.delete(f"/work-sessions/{session}")).status_code == 204
        async with asyncio.timeout(20):
            await watcher.until(lambda s: s.ended)
        assert watcher.events[-1][0] == "work_session.deleted"
        assert watcher.events[-1][2]["id"] == session


async def live_streams_are(server: ServerProcess, count: int) -> bool:
    """Whether the server holds `count` streams open now (its `roboscope_live_streams`)."""
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{server.url}/metrics")).text
    open_now = sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "roboscope_live_streams"  # (absent until a first stream opens)
        for sample in family.samples
    )
    return open_now == count


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_stalled_consumer_is_dropped_instead_of_growing_memory(
    tmp_path: Path, database_env: dict[str, str], shared_redis_url: str
) -> None:
    env = {
        **database_env,
        "ROBOSCOPE_REDIS_URL": shared_redis_url,
        "ROBOSCOPE_LIVE_QUEUE_SIZE": "16",
    }
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        # A client that asks for the stream and then never reads a byte.
        host, port = server.url.removeprefix("http://").split(":")
        stalled = socket.create_connection((host, int(port)))
        stalled.sendall(
            f"GET /api/v1/work-sessions/{session}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        async with asyncio.timeout(20):  # the stream is open: then nothing more is read
            await _read_until(stalled, b"lock.snapshot")
        before = _rss_kib(server.process.pid)
        meta = {"blob": "x" * 60_000}
        async with httpx.AsyncClient(base_url=server.api) as http:
            body = {"work_session_id": session, **SQUARE, "meta": meta}
            marker = (await http.post("/markers", json=body)).json()
            # ~24 MB of events for a client that reads none: several times what the
            # kernel's socket buffers hold, so the server itself must hold or drop the rest.
            for n in range(400):
                answer = await http.patch(f"/markers/{marker['id']}", json={"label": str(n)})
                assert answer.status_code == 200
            grown_mib = (_rss_kib(server.process.pid) - before) / 1024
            # The server still answers everyone else.
            assert (await http.get("/health")).status_code == 200
        async with asyncio.timeout(30):
            received = await _read_until(stalled, b"stream.dropped")
        stalled.close()
        # Once it reads again, it learns why its stream ended (and resumes from its last id).
        assert b"event: stream.dropped" in received
        assert grown_mib < 16, f"server grew {grown_mib:.1f} MiB for a stalled consumer"


def _announced(watcher: Subscriber) -> list[tuple[str, dict[str, object]]]:
    """The presence and lock events after the two snapshots, without their times."""
    return [
        (name, {k: v for k, v in data.items() if k != "expires_at"})
        for name, _, data in watcher.events[2:]
        if name.startswith(("presence.", "lock."))
    ]


async def test_presence_and_lock_events_arrive_once_with_two_processes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Joined, updated (a new profile, not a leave and a join), left, expired; acquired,
    extended, released, expired: each once on a stream of either process, expiries included
    although nobody calls (both processes sweep; the scripts announce each change once)."""
    env = {**env, "ROBOSCOPE_PRESENCE_TTL_SECONDS": "1"}
    with (
        running_server(tmp_path / "a", env=env) as a,
        running_server(tmp_path / "b", env=env) as b,
    ):
        session = await _session(a.api)
        watchers = [Subscriber(a.api, session), Subscriber(b.api, session)]
        for watcher in watchers:
            async with asyncio.timeout(20):
                await watcher.until(snapshots_sent)
        beat = f"/presence/{session}"
        async with httpx.AsyncClient(base_url=a.api) as http:
            ann = {"user_id": "ann", "device_id": "ipad", "display_name": "Ann"}
            assert (await http.post(beat, json=ann)).status_code == 200
            assert (await http.post(beat, json=ann)).status_code == 200  # nothing new
            renamed = {**ann, "display_name": "Ann B."}
            assert (await http.post(beat, json=renamed)).status_code == 200
            bob = {"user_id": "bob", "device_id": "phone"}
            assert (await http.post(beat, json=bob)).status_code == 200
            assert (await http.delete(f"{beat}/bob")).status_code == 200
            expired = (
                "presence.left",
                {"user_id": "ann", "device_id": "ipad", "reason": "expired"},
            )
            for watcher in watchers:  # ann beats no more: her expiry comes with no call
                async with asyncio.timeout(20):
                    await watcher.until(lambda s: expired in _announced(s))

            grant = (
                await http.post(f"/locks/{session}", json={"ttl_seconds": 1, "owner": "ann"})
            ).json()
            fence = int(grant["fence"])
            extended = await http.post(
                f"/locks/{session}/extend", json={"token": grant["token"], "ttl_seconds": 1}
            )
            assert extended.json()["extended"] is True
            lock_expired = ("lock.expired", {"owner": "ann", "fence": fence})
            for watcher in watchers:
                async with asyncio.timeout(20):
                    await watcher.until(lambda s: lock_expired in _announced(s))
            again = (await http.post(f"/locks/{session}", json={"owner": "bob"})).json()
            released = await http.request(
                "DELETE", f"/locks/{session}", json={"token": again["token"]}
            )
            assert released.json()["released"] is True
            last = ("lock.released", {"owner": "bob", "fence": int(again["fence"])})
            for watcher in watchers:
                async with asyncio.timeout(20):
                    await watcher.until(lambda s: last in _announced(s))
        expected = [
            (
                "presence.joined",
                {"user_id": "ann", "device_id": "ipad", "display_name": "Ann", "meta": {}},
            ),
            (
                "presence.updated",
                {"user_id": "ann", "device_id": "ipad", "display_name": "Ann B.", "meta": {}},
            ),
            ("presence.joined", {"user_id": "bob", "device_id": "phone", "meta": {}}),
            ("presence.left", {"user_id": "bob", "device_id": "phone", "reason": "left"}),
            expired,
            ("lock.acquired", {"owner": "ann", "fence": fence}),
            ("lock.extended", {"owner": "ann", "fence": fence}),
            lock_expired,
            ("lock.acquired", {"owner": "bob", "fence": int(again["fence"])}),
            last,
        ]
        # A last event: a repeat of anything above would have been announced before it.
        async with httpx.AsyncClient(base_url=a.api) as http:
            assert (await http.post(beat, json={"user_id": "zed"})).status_code == 200
        zed: tuple[str, dict[str, object]] = (
            "presence.joined",
            {"user_id": "zed", "device_id": "default", "meta": {}},
        )
        for watcher in watchers:
            async with asyncio.timeout(20):
                await watcher.until(lambda s: zed in _announced(s))
        for watcher in watchers:
            announced = _announced(watcher)
            assert announced[: announced.index(zed)] == expected
            assert all("token" not in str(data) for _, _, data in watcher.events)
            await watcher.close()


async def test_a_change_whose_wake_up_was_lost_still_arrives(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A write that publishes no wake-up (here: made by a process without a live hub, as
    when Redis drops the message) reaches the stream by the log poll: late, never lost."""
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        watcher = Subscriber(server.api, session)
        async with asyncio.timeout(20):
            await watcher.until(snapshots_sent)
        database = Database(env["ROBOSCOPE_DATABASE_URL"])  # no listener: nothing published
        try:
            body = MarkerCreate.model_validate({"work_session_id": session, **SQUARE})
            answer = await markers.create_marker(database, anonymous("test"), body)
        finally:
            await database.dispose()
        async with asyncio.timeout(20):
            await watcher.until(data_events(1))
        assert watcher.data()[0][2] == json.loads(answer.body)
        await watcher.close()


def _raw_stream(server: ServerProcess, session: str, *, receive_buffer: int = 0) -> socket.socket:
    """A client that asks for the stream over a plain socket and reads only when told to
    (with a small receive buffer, the server's sends soon have to wait for it)."""
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /api/v1/work-sessions/{session}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


async def _read_until(sock: socket.socket, marker: bytes | None = None) -> bytes:
    """What the server sends until `marker` arrives or it closes the connection (bounded by
    the caller)."""
    sock.setblocking(False)
    received = b""
    while marker is None or marker not in received:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            await asyncio.sleep(0.05)
            continue
        if not chunk:
            break
        received += chunk
    return received


async def _big_changes(api: str, session: str, count: int) -> None:
    """`count` changes of ~60 KB each: a client that reads none soon blocks the server."""
    async with httpx.AsyncClient(base_url=api) as http:
        body = {"work_session_id": session, **SQUARE, "meta": {"blob": "x" * 60_000}}
        marker = (await http.post("/markers", json=body)).json()
        for n in range(count - 1):
            answer = await http.patch(f"/markers/{marker['id']}", json={"label": str(n)})
            assert answer.status_code == 200


async def test_a_slow_reader_gets_every_change_once_in_order(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A client that reads late makes the server's sends wait for its socket: the frames
    behind the waiting send are held (up to the queue size) and follow it when it drains,
    in order, none lost or repeated."""
    env = {**env, "ROBOSCOPE_LIVE_QUEUE_SIZE": "5000"}
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        sock = _raw_stream(server, session, receive_buffer=4096)
        async with asyncio.timeout(20):
            received = await _read_until(sock, b"lock.snapshot")
        # ~9 MB before the client reads on: more than the socket buffers take
        await _big_changes(server.api, session, 150)
        async with asyncio.timeout(60):
            received += await _read_until(sock, b'"label":"148"')
        sock.close()
    cursors = [int(line[4:]) for line in received.split(b"\n") if line.startswith(b"id: ")]
    assert len(cursors) == 150
    assert cursors == sorted(set(cursors))
    assert b"stream.dropped" not in received


async def test_streams_end_cleanly_when_the_server_stops(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Every stream ends with `stream.closing`; one whose client reads nothing does not
    hold the server up (it is cut after a short grace)."""
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        watchers = [Subscriber(server.api, session) for _ in range(20)]
        for watcher in watchers:
            async with asyncio.timeout(20):
                await watcher.until(snapshots_sent)
        stalled = _raw_stream(server, session, receive_buffer=4096)
        await _big_changes(server.api, session, 40)
        stopping = asyncio.create_task(asyncio.to_thread(server.stop))
        for watcher in watchers:  # bounded by the test timeout, not by a duration assertion
            async with asyncio.timeout(30):
                await watcher.until(lambda s: s.ended)
            # A clean end of the response, with the event that says why: reconnect elsewhere.
            assert watcher.events[-1][0] == "stream.closing"
            assert sum(name.startswith("marker.") for name, _, _ in watcher.events) == 40
            await watcher.close()
        assert await stopping == 0  # (server.stop kills a server that does not stop in 20 s)
        stalled.close()


async def test_a_client_that_accepts_nothing_is_disconnected(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """With room to hold everything (a large queue), a client that reads nothing is still
    cut once its sends have waited ROBOSCOPE_LIVE_SEND_TIMEOUT_SECONDS: the connection
    closes without the end of the response."""
    env = {**env, "ROBOSCOPE_LIVE_SEND_TIMEOUT_SECONDS": "1", "ROBOSCOPE_LIVE_QUEUE_SIZE": "5000"}
    # (Two processes: the test watches their shared stream count in /metrics, which a
    # single-process server does not report today.)
    with running_server(tmp_path / "a", env=env, workers=2) as server:
        session = await _session(server.api)
        stalled = _raw_stream(server, session, receive_buffer=4096)
        await until(lambda: live_streams_are(server, 1))
        # ~9 MB: more than the kernel's socket buffers take, so the server's sends wait
        await _big_changes(server.api, session, 150)
        await until(lambda: live_streams_are(server, 0))  # given up on (reading would unblock)
        async with asyncio.timeout(30):
            received = await _read_until(stalled)
        stalled.close()
        assert b"event: lock.snapshot" in received
        assert b"stream.dropped" not in received
        assert not received.endswith(b"0\r\n\r\n")  # cut, not ended
        async with httpx.AsyncClient(base_url=server.api) as http:
            assert (await http.get("/health")).status_code == 200


async def _opened(server: ServerProcess, session: str) -> socket.socket | None:
    """A stream whose head and snapshots arrived, or None when the server answered 503."""
    sock = _raw_stream(server, session)
    received = await _read_until(sock, b"lock.snapshot")
    if b"lock.snapshot" not in received:  # closed first
        if received.startswith(b"HTTP/1.1 503"):
            sock.close()
            return None
        raise AssertionError(f"closed after {received!r}")
    assert received.startswith(b"HTTP/1.1 200")
    return sock


async def test_a_client_that_goes_away_frees_its_slot_at_once(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Streams whose clients vanish end when the socket closes, not at the next ping (a
    minute away here): with room for 3 streams at a time (uvicorn counts the connection
    being accepted too), 3 streams are opened and dropped, 4 times over; each round's
    streams fit only once the last round's are freed."""
    env = {**env, "ROBOSCOPE_HTTP_MAX_CONNECTIONS": "4", "ROBOSCOPE_LIVE_PING_SECONDS": "60"}
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        for _ in range(4):
            socks: list[socket.socket] = []
            async with asyncio.timeout(20):  # well below the ping interval
                while len(socks) < 3:
                    sock = await _opened(server, session)
                    if sock is None:  # a slot of the last round is not free yet
                        await asyncio.sleep(0.1)
                    else:
                        socks.append(sock)
            for sock in socks:
                sock.close()


async def test_idle_streams_get_keep_alive_comments(tmp_path: Path, env: dict[str, str]) -> None:
    with running_server(tmp_path / "a", env=env) as server:
        session = await _session(server.api)
        async with (
            httpx.AsyncClient(base_url=server.api, timeout=httpx.Timeout(10, read=30)) as http,
            http.stream("GET", f"/work-sessions/{session}/events", params={"ping": 1}) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            seen = ""
            async for chunk in response.aiter_text():
                seen += chunk
                if ": ping" in seen:
                    break


async def test_stopping_right_after_starting_never_hangs(tmp_path: Path) -> None:
    """The live hub's background tasks stop even when the stop lands while they connect to
    Redis (redis-py can swallow a cancel there): a server that cannot bind its port stops
    its app at once after starting it."""
    with EmbeddedRedis(tmp_path / "redis") as redis:
        settings = Settings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'stop.db'}",
            redis_url=redis.url,
        )
        await asyncio.to_thread(upgrade, settings.resolved_database_url)
        for delay in (0, 0.0005, 0.001, 0.002, 0.005):
            async with asyncio.timeout(20):  # bounded: a hang fails here
                async with app_state(settings):
                    await asyncio.sleep(delay)
