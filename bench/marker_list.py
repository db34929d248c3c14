"""The marker list at production speed: `GET /work-sessions/{id}/markers` of 1,000 and 10,000
markers, on SQLite and (with `--postgresql URL`) PostgreSQL, beside a bare baseline.

    ./dev bench list [--sizes 1000,10000] [--rounds 30] [--postgresql URL]

The baseline is the separate baseline app (bench/baseline_app.py) answering the very same
bytes from one Redis `GET`: the bare framework sending a list of that size. Requests alternate
(baseline, API, baseline, API, ...), so a busy machine slows both alike; the ratio of the two
p50s is what reading, converting and encoding the list costs. The aim (issue 15) is printed
beside each p50 with "met" or "not met", and the API process's CPU time per list beside it
(what a list costs, less stretched by a busy machine than the p50). Timings are reported,
never asserted. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import redis

from .baseline_app import STORED
from .load import Connection, HttpError
from .realtime import percentile
from .server import ROOT, Server, bench_redis, redacted, serve_pair

API = "/api/v1"
AIMS_MS = {1_000: 20.0, 10_000: 200.0}
"""Issue 15: p50 of a list of 1,000 markers within 20 ms, of 10,000 within 200 ms."""
BULK = 1_000


@dataclass(frozen=True)
class Figures:
    database: str
    markers: int
    api_p50_ms: float
    baseline_p50_ms: float
    body_bytes: int
    server_rss_mb: float | None
    api_cpu_ms: float | None
    """The API process's CPU time per list (user + system, its database thread included):
    the work a list costs, which a busy machine stretches less than the wall-clock p50."""

    @property
    def aim_ms(self) -> float | None:
        return AIMS_MS.get(self.markers)


def _api_json(api: Server, method: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{api.port}{API}{path}",
        method=method,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)


def _marker(session_id: str, n: int) -> dict[str, Any]:
    """A marker as the app makes them: label, color, a little meta, calibrated corners."""
    corners = {"p1": [0, 0, n], "p2": [1, 0, n], "p3": [1, 0, n + 1], "p4": [0, 0, n + 1]}
    return {
        "work_session_id": session_id,
        "label": f"M-{n}",
        "color": "#FF8800",
        "meta": {"source": "bench", "n": n},
        **corners,
        "calibrated_data": {**corners, "center": [0.5, 0, n + 0.5]},
    }


def prepare_session(api: Server, markers: int) -> str:
    """A new work session of `markers` markers, created in bulks of at most `BULK`."""
    space = _api_json(api, "POST", "/spaces", {"key": f"list-{os.urandom(4).hex()}", "name": "L"})
    session = _api_json(
        api, "POST", "/work-sessions", {"space_id": space["id"], "session_type": "inspection"}
    )
    for start in range(0, markers, BULK):
        batch = [_marker(session["id"], n) for n in range(start, min(markers, start + BULK))]
        _api_json(api, "POST", "/markers/bulk", {"markers": batch})
    return str(session["id"])


async def _get(port: int, path: str) -> tuple[int, bytes, int]:
    """(status, body, nanoseconds): one request on a fresh connection (the time taken to
    connect is included, alike for both servers). A connection held open across the other
    server's slow answers could outlive uvicorn's keep-alive timeout on a loaded machine."""
    conn = await Connection.open(port)
    try:
        request = conn.build("GET", path)
        started = time.perf_counter_ns()
        status, body = await conn.send(request)
        return status, body, time.perf_counter_ns() - started
    finally:
        await conn.close()


async def _p50s(
    api: Server, baseline: Server, path: str, key: str, rounds: int
) -> tuple[float, float, int, float | None]:
    """(API p50, baseline p50, body size, API CPU ms per list): `rounds` alternating requests
    to each, after one untimed request to each (warm caches)."""
    status, body, _ = await _get(api.port, path)
    if status != 200:
        raise HttpError(f"GET {path} answered {status}: {body[:200]!r}")
    if (await _get(baseline.port, STORED.format(key=key)))[1] != body:
        raise HttpError("the baseline does not answer the list's bytes")
    timings: dict[int, list[int]] = {baseline.port: [], api.port: []}
    cpu_before = api.cpu_seconds()
    for _ in range(rounds):
        for port, target in ((baseline.port, STORED.format(key=key)), (api.port, path)):
            status, _, took_ns = await _get(port, target)
            if status != 200:
                raise HttpError(f"GET {target} answered {status} during the run")
            timings[port].append(took_ns)
    cpu_after = api.cpu_seconds()
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None:
        cpu_ms = (cpu_after - cpu_before) * 1000 / rounds
    api_p50 = percentile(sorted(timings[api.port]), 0.5)
    return api_p50, percentile(sorted(timings[baseline.port]), 0.5), len(body), cpu_ms


def _migrate(database_url: str) -> None:
    env = {**os.environ, "ROBOSCOPE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "roboscope", "db", "upgrade"], cwd=ROOT, env=env)
    if done.returncode != 0:  # `roboscope db upgrade` has said why
        raise SystemExit(f"error: could not migrate {redacted(database_url)}")


def measure_database(
    label: str, database_url: str | None, redis_url: str, args: argparse.Namespace
) -> list[Figures]:
    figures = []
    store = redis.Redis.from_url(redis_url)
    with serve_pair(redis_url, 1, database_url=database_url) as (api, baseline):
        for size in args.sizes:
            print(f"  {label}: {size} markers", flush=True)
            session = prepare_session(api, size)
            path = f"{API}/work-sessions/{session}/markers"
            key = f"roboscope:bench:list:{session}"
            with urllib.request.urlopen(f"http://127.0.0.1:{api.port}{path}", timeout=120) as r:
                store.set(key, r.read(), ex=3600)
            try:
                api_p50, base_p50, size_bytes, cpu_ms = asyncio.run(
                    _p50s(api, baseline, path, key, args.rounds)
                )
            finally:
                store.delete(key)
            rss = api.rss_bytes()
            rss_mb = rss and rss / 2**20
            figures.append(Figures(label, size, api_p50, base_p50, size_bytes, rss_mb, cpu_ms))
    store.close()
    return figures


def print_figures(figures: list[Figures]) -> None:
    print(
        f"\n{'database':<11} {'markers':>7} {'body':>8} {'API p50':>9} {'baseline':>9}"
        f" {'ratio':>6} {'aim':>7}  {'':<7} {'API CPU':>8} {'server RSS':>10}"
    )
    for f in figures:
        aim = "" if f.aim_ms is None else f"{f.aim_ms:g} ms"
        met = "" if f.aim_ms is None else ("met" if f.api_p50_ms <= f.aim_ms else "not met")
        rss = "" if f.server_rss_mb is None else f"{f.server_rss_mb:.0f} MB"
        cpu = "" if f.api_cpu_ms is None else f"{f.api_cpu_ms:.1f} ms"
        ratio = f.api_p50_ms / f.baseline_p50_ms if f.baseline_p50_ms else float("nan")
        print(
            f"{f.database:<11} {f.markers:>7} {f.body_bytes / 1e6:>6.2f}MB {f.api_p50_ms:>6.1f} ms"
            f" {f.baseline_p50_ms:>6.1f} ms {ratio:>5.1f}x {aim:>7}  {met:<7} {cpu:>8} {rss:>10}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev bench list", description=__doc__.split("\n")[0])

    def sizes(text: str) -> list[int]:
        try:
            values = [int(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
        if not all(1 <= value <= 10_000 for value in values):
            raise argparse.ArgumentTypeError("sizes are between 1 and 10000")
        return values

    def rounds(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= 10_000:
            raise argparse.ArgumentTypeError("rounds are between 1 and 10000")
        return int(text)

    parser.add_argument("--sizes", type=sizes, default=[1_000, 10_000], help="(1000,10000)")
    parser.add_argument("--rounds", type=rounds, default=30, help="requests per size (30)")
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        default=os.environ.get("ROBOSCOPE_BENCH_POSTGRESQL_URL"),
        help="also measure on this PostgreSQL database (postgresql+asyncpg://…), migrated "
        "first; default: ROBOSCOPE_BENCH_POSTGRESQL_URL, else SQLite only",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    databases: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgresql:
        _migrate(args.postgresql)  # first: a wrong URL fails before any measuring
        databases.append(("PostgreSQL", args.postgresql))
    figures: list[Figures] = []
    with bench_redis() as (redis_url, redis_label):
        where = ", ".join(label if url is None else redacted(url) for label, url in databases)
        print(f"Marker list benchmark: {where}; Redis: {redis_label}", flush=True)
        for label, url in databases:
            figures += measure_database(label, url, redis_url, args)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
