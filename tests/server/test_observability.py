"""Metrics and logs of a real `roboscope serve`: several worker processes answer `/metrics`
with one summed view, live streams are counted, and the JSON request log of every process
carries request ids and never a token."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..servers import ServerProcess, running_server
from .test_live import Subscriber, _session, snapshots_sent

SQUARE = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
VERSION_ROUTE = "/api/v1/version"


Sample = tuple[str, frozenset[tuple[str, str]]]
"""A metric sample's name and labels."""


def scrape(server: ServerProcess) -> dict[Sample, float]:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_of(server: ServerProcess, route: str, status: str = "200") -> float:
    key = (
        "roboscope_http_requests_total",
        frozenset({"method": "GET", "route": route, "status": status}.items()),
    )
    return scrape(server).get(key, 0.0)


def log_lines(server: ServerProcess) -> list[dict[str, Any]]:
    lines = []
    for text in server.log.read_text(errors="replace").splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def request_lines(server: ServerProcess, route: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(server) if line.get("route") == route]


def wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_one_process_as_served_by_default_counts_its_requests(tmp_path: Path) -> None:
    """`roboscope serve` with its defaults runs one process, which answers `/metrics` from the
    shared folder like a worker of several: its own requests must be there, not only what
    Redis holds."""
    with running_server(tmp_path) as server, httpx.Client(base_url=server.api) as http:
        for sent in range(1, 4):
            assert http.get("/version").status_code == 200
            assert requests_of(server, VERSION_ROUTE) == sent
        assert http.get("/spaces/not-a-uuid").status_code == 422
        samples = scrape(server)
        count = (
            "roboscope_http_request_duration_seconds_count",
            frozenset({"method": "GET", "route": VERSION_ROUTE}.items()),
        )
        assert samples[count] == 3
        invalid = (
            "roboscope_http_requests_total",
            frozenset(
                {"method": "GET", "route": "/api/v1/spaces/{space_id}", "status": "422"}.items()
            ),
        )
        assert samples[invalid] == 1
        for series in ("roboscope_live_streams", "roboscope_database_errors_total"):
            assert (series, frozenset()) in samples
        assert ("roboscope_locks_held", frozenset()) in samples  # and the census too
        # It writes its values where a second worker's would be summed with them.
        assert any((tmp_path / "metrics" / str(server.process.pid)).glob("counter_*.db"))


def test_two_workers_answer_with_one_sum(tmp_path: Path) -> None:
    """Every request counts once in every scrape, whichever worker served it and whichever
    answers the scrape; the log shows both workers served."""
    env = {"ROBOSCOPE_LOG_FORMAT": "json"}
    with running_server(tmp_path, env=env, workers=2, log_level="info") as server:
        sent = 0
        pids: set[int] = set()
        # New connections until both workers have served some (the kernel picks the worker).
        for _ in range(50):
            for _ in range(10):
                with httpx.Client() as http:  # a new connection each time
                    assert http.get(f"{server.api}/version").status_code == 200
                sent += 1
            wait_for(lambda sent=sent: len(request_lines(server, VERSION_ROUTE)) == sent)
            pids = {line["pid"] for line in request_lines(server, VERSION_ROUTE)}
            if len(pids) == 2:
                break
        assert len(pids) == 2, "one worker served every request"
        for _ in range(6):  # the scrapes themselves land on either worker
            assert requests_of(server, VERSION_ROUTE) == sent
        samples = scrape(server)
        count = (
            "roboscope_http_request_duration_seconds_count",
            frozenset({"method": "GET", "route": VERSION_ROUTE}.items()),
        )
        assert samples[count] == sent


async def test_live_streams_and_events_are_counted(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_LOG_FORMAT": "json"}
    with running_server(tmp_path, env=env, workers=2, log_level="info") as server:
        session = await _session(server.api)
        streams: Sample = ("roboscope_live_streams", frozenset())
        delivered: Sample = ("roboscope_live_events_delivered_total", frozenset())
        assert scrape(server)[streams] == 0
        before = scrape(server)[delivered]

        watchers = [Subscriber(server.api, session) for _ in range(3)]
        async with asyncio.timeout(20):
            for watcher in watchers:
                await watcher.until(snapshots_sent)
        assert scrape(server)[streams] == 3

        async with httpx.AsyncClient(base_url=server.api) as http:
            body = {"work_session_id": session, **SQUARE}
            assert (await http.post("/markers", json=body)).status_code == 201
        async with asyncio.timeout(20):
            for watcher in watchers:
                await watcher.until(lambda s: len(s.data()) >= 1)
        assert scrape(server)[delivered] - before >= 3

        for watcher in watchers:
            await watcher.close()
        route = "/api/v1/work-sessions/{session_id}/events"
        await asyncio.to_thread(wait_for, lambda: scrape(server)[streams] == 0)
        # Each stream logs one line when it ends, with the route template.
        await asyncio.to_thread(wait_for, lambda: len(request_lines(server, route)) == 3)
        for line in request_lines(server, route):
            assert line["path"] == f"/api/v1/work-sessions/{session}/events"
            assert line["status"] == 200
            assert len(line["request_id"]) == 32
        key = (
            "roboscope_http_requests_total",
            frozenset({"method": "GET", "route": route, "status": "200"}.items()),
        )
        assert scrape(server)[key] == 3


def test_the_server_log_is_json_with_request_ids_and_no_tokens(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_LOG_FORMAT": "json"}
    secret = "secret-xyz"
    with (
        running_server(tmp_path, env=env, log_level="info") as server,
        httpx.Client(base_url=server.api) as http,
    ):
        space = http.post("/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "S"}).json()
        body = {"space_id": space["id"], "session_type": "inspection"}
        session = http.post("/work-sessions", json=body).json()["id"]
        grant = http.post(f"/locks/{session}", json={}).json()
        auth = {"Authorization": f"Bearer {secret}"}
        answers = [
            http.get("/spaces", headers={**auth, "X-Request-ID": "from-the-edge"}),
            http.get(f"/spaces?access_token={secret}"),
            http.get(f"{server.url}/nowhere?access_token={secret}"),
            http.post(
                "/markers",
                json={"work_session_id": session, **SQUARE},
                headers={"X-Lock-Token": grant["token"], **auth},
            ),
            http.request("DELETE", f"/locks/{session}", json={"token": grant["token"]}),
        ]
        assert [answer.status_code for answer in answers] == [200, 200, 404, 201, 200]
        ids = [answer.headers["x-request-id"] for answer in answers]
        assert ids[0] == "from-the-edge"
        wait_for(lambda: {line.get("request_id") for line in log_lines(server)} >= set(ids))

    output = server.log.read_text()
    assert secret not in output
    assert grant["token"] not in output
    requests = [line for line in log_lines(server) if line["logger"] == "roboscope.access"]
    first = next(line for line in requests if line["request_id"] == "from-the-edge")
    assert first["method"] == "GET"
    assert first["route"] == "/api/v1/spaces"
    assert first["status"] == 200
    assert first["client"] == "127.0.0.1"
    assert first["level"] == "info"
    assert "uvicorn.access" not in {line["logger"] for line in log_lines(server)}


def test_the_metrics_folder_is_private_fresh_and_removed(tmp_path: Path) -> None:
    """Each `serve` shares its workers' values through DATA_DIR/metrics/<its pid>: private,
    emptied at start (left-overs of a server that is gone are removed), removed at stop."""
    gone = tmp_path / "metrics" / "999999999"  # no such process
    gone.mkdir(parents=True)
    (gone / "counter_1.db").write_bytes(b"stale")
    with running_server(tmp_path, workers=2) as server:
        mine = tmp_path / "metrics" / str(server.process.pid)
        assert mine.is_dir()
        assert mine.stat().st_mode & 0o777 == 0o700
        assert not gone.exists()
        assert httpx.get(f"{server.api}/version").status_code == 200
        assert any(mine.glob("counter_*.db"))
    assert not mine.exists()
