"""A lock-safety load against real API processes, and what it proves when Redis fails under it.

Workers take a work session's lock and make fenced read-modify-write increments of a marker
(read the label, write label + 1 with `X-Lock-Token`), heartbeaters keep presence alive, and
one live stream per session follows the changes, while the test kills a Redis node or moves
a slot. Every request is recorded with its times and answer; `LoadRecord.figures()` turns
them into the figures the tests assert and docs/realtime.md reports:

- lost updates: increments answered 2xx that the final label does not hold;
- stale writes accepted: writes answered 2xx although a newer grant of the session's lock
  (a larger fence) had been answered before the write was sent;
- overlapping holders: grants answered while an earlier holder's grant was neither released
  nor past its TTL (what asynchronous replication allows after a failover; fences make it
  harmless);
- time to answer again: from the kill to the end of the last failed presence or lock call;
- missed changes: marker versions the live streams never delivered;
- errors: answers in 5xx other than 503 (503 with Retry-After is the documented answer while
  Redis cannot serve, and these clients retry it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import aconnect_sse

SQUARE = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
LOCK_TTL_SECONDS = 2
REDIS_CALLS = ("acquire", "release", "heartbeat")  # answered from Redis alone, or mostly
RETRY_PAUSE = 0.05  # after a 503 or a refused acquire: these clients retry at once
REQUEST_TIMEOUT = 20.0  # far above the server's own Redis and database budgets


@dataclass
class Call:
    kind: str  # acquire, read, write, release, heartbeat
    session: str
    started: float
    ended: float
    status: int  # 0: no answer (transport error)


@dataclass
class Grant:
    session: str
    holder: int
    fence: int
    requested: float  # the holder counts its TTL from here (it cannot know better)
    answered: float
    released: float | None = None  # when the holder sent its release


@dataclass
class Write:
    session: str
    fence: int
    started: float
    status: int


@dataclass
class Figures:
    acked_increments: int
    lost_updates: int
    unknown_writes: int
    stale_writes_accepted: int
    stale_writes_refused: int
    overlapping_holders: int
    server_errors: int
    unavailable_answers: int
    time_to_answer_again: float | None
    missed_changes: int
    requests: int

    def summary(self) -> str:
        again = "-" if self.time_to_answer_again is None else f"{self.time_to_answer_again:.1f} s"
        return (
            f"{self.requests} requests, {self.acked_increments} increments acknowledged: "
            f"lost updates {self.lost_updates}, stale writes accepted "
            f"{self.stale_writes_accepted} (refused {self.stale_writes_refused}), overlapping "
            f"holders {self.overlapping_holders}, 5xx other than 503 {self.server_errors}, "
            f"503 {self.unavailable_answers}, answering again after {again}, missed changes "
            f"{self.missed_changes}, writes of unknown outcome {self.unknown_writes}"
        )


@dataclass
class LoadRecord:
    markers: dict[str, str]  # session -> its counter marker
    calls: list[Call] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    final_labels: dict[str, int] = field(default_factory=dict)
    final_versions: dict[str, int] = field(default_factory=dict)
    streamed_versions: dict[str, set[int]] = field(default_factory=dict)
    failed_at: float | None = None  # when the test broke Redis

    def figures(self) -> Figures:
        stale_accepted = stale_refused = 0
        for write in self.writes:
            newer = any(
                grant.session == write.session
                and grant.fence > write.fence
                and grant.answered < write.started
                for grant in self.grants
            )
            if newer and 200 <= write.status < 300:
                stale_accepted += 1
            elif newer and write.status == 423:
                stale_refused += 1
        overlapping = 0
        for grant in self.grants:
            overlapping += any(
                other.session == grant.session
                and other.holder != grant.holder
                and other.answered < grant.answered < other.requested + LOCK_TTL_SECONDS
                and (other.released is None or other.released > grant.answered)
                for other in self.grants
            )
        lost = sum(max(0, self.acked.get(s, 0) - self.final_labels.get(s, 0)) for s in self.markers)
        unknown = sum(1 for w in self.writes if w.status == 0)
        missed = sum(
            len(
                set(range(1, self.final_versions.get(s, 0) + 1))
                - self.streamed_versions.get(s, set())
            )
            for s in self.markers
        )
        again = None if self.failed_at is None else self._answering_again(self.failed_at)
        return Figures(
            acked_increments=sum(self.acked.values()),
            lost_updates=lost,
            unknown_writes=unknown,
            stale_writes_accepted=stale_accepted,
            stale_writes_refused=stale_refused,
            overlapping_holders=overlapping,
            server_errors=sum(1 for c in self.calls if c.status >= 500 and c.status != 503),
            unavailable_answers=sum(1 for c in self.calls if c.status == 503),
            time_to_answer_again=again,
            missed_changes=missed,
            requests=len(self.calls),
        )

    def _answering_again(self, failed_at: float) -> float:
        """Seconds from the fault until presence and locks answer again: the end of the last
        presence or lock call that was not answered well (failed, or waited) because of it,
        i.e. of every call started before the first one that succeeded after the last
        failure."""
        calls = sorted(
            (c for c in self.calls if c.kind in REDIS_CALLS and c.ended >= failed_at),
            key=lambda c: c.started,
        )
        failed = [c.started for c in calls if not 200 <= c.status < 300]
        last_failed = max(failed, default=failed_at)
        healed = next((c for c in calls if c.started > last_failed and 200 <= c.status < 300), None)
        if healed is None:
            return max((c.ended for c in calls), default=failed_at) - failed_at
        disturbed = [c.ended for c in calls if c.started <= healed.started]
        return max(disturbed) - failed_at

    def last_failure(self) -> float | None:
        failed = [c.ended for c in self.calls if c.status >= 500 or c.status == 0]
        return max(failed) if failed else None


async def prepare_sessions(
    http: httpx.AsyncClient, count: int, *, accept: Callable[[str], bool] = lambda _: True
) -> dict[str, str]:
    """`count` work sessions that `accept` takes (e.g. those of one Redis Cluster slot), each
    with a counter marker labelled 0: session id -> marker id."""
    space = await http.post("/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "load"})
    space.raise_for_status()
    markers: dict[str, str] = {}
    for _ in range(count * 2000):
        if len(markers) == count:
            break
        body = {"space_id": space.json()["id"], "session_type": "inspection"}
        created = await http.post("/work-sessions", json=body)
        created.raise_for_status()
        session = created.json()["id"]
        if not accept(session):
            continue
        marker = await http.post(
            "/markers", json={"work_session_id": session, **SQUARE, "label": "0"}
        )
        marker.raise_for_status()
        markers[session] = marker.json()["id"]
    assert len(markers) == count, "not enough sessions of the kind asked for"
    return markers


class LockSafetyLoad:
    """The load, against one or more API processes (`apis`, used in turn)."""

    def __init__(
        self, apis: list[str], markers: dict[str, str], *, workers: int = 8, beaters: int = 4
    ) -> None:
        self.apis = apis
        self.record = LoadRecord(markers)
        self.workers = workers
        self.beaters = beaters
        self._stop = asyncio.Event()
        self._progress = asyncio.Event()  # set by every answer and every streamed event
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: list[asyncio.Task[None]] = []
        self._streaming = asyncio.Event()
        self._clients: list[httpx.AsyncClient] = []
        self._started = 0

    async def __aenter__(self) -> LockSafetyLoad:
        limits = httpx.Limits(max_connections=self.workers + self.beaters + 8)
        timeout = httpx.Timeout(REQUEST_TIMEOUT)
        self._clients = [
            httpx.AsyncClient(base_url=api, limits=limits, timeout=timeout) for api in self.apis
        ]
        sessions = list(self.record.markers)
        for session in sessions:
            self.record.streamed_versions[session] = set()
        # The streams read from the last process, the writes go to all in turn: a change
        # made on one process reaches a stream on another.
        stream_api = self.apis[-1]
        ready = [asyncio.Event() for _ in sessions]
        self._streams = [
            asyncio.create_task(self._follow(stream_api, session, opened))
            for session, opened in zip(sessions, ready, strict=True)
        ]
        async with asyncio.timeout(30):
            await asyncio.gather(*(opened.wait() for opened in ready))
        ids = itertools.count()
        for _ in range(self.workers):
            self._spawn(self._work(next(ids)))
        for index in range(self.beaters):
            self._spawn(self._beat(index))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._settle()
        for task in self._streams:
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        for client in self._clients:
            await client.aclose()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work))

    def _client(self) -> httpx.AsyncClient:
        self._started += 1
        return self._clients[self._started % len(self._clients)]

    async def _call(
        self, kind: str, session: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            answer: httpx.Response | None = await self._client().request(method, path, **kwargs)
        except httpx.TransportError:
            answer = None
        status = 0 if answer is None else answer.status_code
        self.record.calls.append(Call(kind, session, started, time.monotonic(), status))
        self._progress.set()
        return answer

    async def run_until(self, condition: Callable[[], bool], *, within: float) -> None:
        """Keep the load on until `condition` holds (checked at every answer), at most
        `within` seconds."""
        async with asyncio.timeout(within):
            await self._progressed_until(condition)

    async def _progressed_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._progress.clear()
            await self._progress.wait()

    def acknowledged(self) -> int:
        return sum(self.record.acked.values())

    async def _work(self, holder: int) -> None:
        sessions = list(self.record.markers)
        turn = holder
        while not self._stop.is_set():
            turn += 1
            session = sessions[turn % len(sessions)]
            requested = time.monotonic()
            acquired = await self._call(
                "acquire",
                session,
                "POST",
                f"/locks/{session}",
                json={"ttl_seconds": LOCK_TTL_SECONDS, "owner": f"worker-{holder}"},
            )
            if acquired is None or acquired.status_code != 200 or not acquired.json()["acquired"]:
                await asyncio.sleep(RETRY_PAUSE)
                continue
            fence = int(acquired.json()["fence"])
            grant = Grant(session, holder, fence, requested, time.monotonic())
            self.record.grants.append(grant)
            token = acquired.json()["token"]
            await self._increment(session, grant.fence, token)
            grant.released = time.monotonic()
            await self._call(
                "release", session, "DELETE", f"/locks/{session}", json={"token": token}
            )

    async def _increment(self, session: str, fence: int, token: str) -> None:
        marker = self.record.markers[session]
        read = await self._call("read", session, "GET", f"/markers/{marker}")
        if read is None or read.status_code != 200:
            return
        value = int(read.json()["label"])
        started = time.monotonic()
        written = await self._call(
            "write",
            session,
            "PATCH",
            f"/markers/{marker}",
            json={"label": str(value + 1)},
            headers={"X-Lock-Token": token},
        )
        status = 0 if written is None else written.status_code
        self.record.writes.append(Write(session, fence, started, status))
        if 200 <= status < 300:
            self.record.acked[session] = self.record.acked.get(session, 0) + 1

    async def _beat(self, index: int) -> None:
        sessions = list(self.record.markers)
        session = sessions[index % len(sessions)]
        while not self._stop.is_set():
            await self._call(
                "heartbeat",
                session,
                "POST",
                f"/presence/{session}",
                json={"user_id": f"user-{index}", "device_id": "d"},
            )
            await asyncio.sleep(0.1)

    async def _follow(self, api: str, session: str, opened: asyncio.Event) -> None:
        """One live stream of the session, resumed with Last-Event-ID if it ends."""
        last: str | None = None
        versions = self.record.streamed_versions[session]
        marker = self.record.markers[session]
        timeout = httpx.Timeout(10, read=None)
        async with httpx.AsyncClient(base_url=api, timeout=timeout) as http:
            while True:
                headers = {} if last is None else {"Last-Event-ID": last}
                with contextlib.suppress(httpx.TransportError):
                    url = f"/work-sessions/{session}/events"
                    async with aconnect_sse(http, "GET", url, headers=headers) as sse:
                        opened.set()
                        async for event in sse.aiter_sse():
                            if event.id:
                                last = event.id
                            if event.event.startswith("marker.") and event.id:
                                data = event.json()
                                if data.get("id") == marker and "version" in data:
                                    versions.add(int(data["version"]))
                                    self._progress.set()
                await asyncio.sleep(0.2)

    async def _settle(self) -> None:
        """Read the final state, then wait (bounded) until the streams delivered it."""
        http = self._clients[0]
        for session, marker in self.record.markers.items():
            for _ in range(100):
                answer = await http.get(f"/markers/{marker}")
                if answer.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            answer.raise_for_status()
            self.record.final_labels[session] = int(answer.json()["label"])
            self.record.final_versions[session] = int(answer.json()["version"])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await self._progressed_until(
                    lambda: all(
                        version in self.record.streamed_versions[session]
                        for session, final in self.record.final_versions.items()
                        for version in range(1, final + 1)
                    )
                )
