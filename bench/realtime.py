"""Lock cycles and presence heartbeats over HTTP, beside a separate one-`SET NX PX` baseline app.

    ./dev bench [--clients 64] [--workers 1,2] [--auth off,required] [--postgresql URL]
                [--duration 5] [--rounds 1] [--redis single,cluster] [--profile DIR]
                [--json FILE]

For each configuration (Redis, database, auth, worker processes), `roboscope serve` and the
baseline app (bench/baseline_app.py: the bare framework plus one Redis call) run side by
side, on the same Redis, machine and load generator; for each number of concurrent
connections the scenarios are measured interleaved (baseline, locks, presence, ...,
baseline), so drift on a shared machine shows up in the per-run rows instead of in the
ratio, which says what our app and its rules cost on top of "the framework plus one Redis
round trip". Every failed request is counted. The aims of issue 15 are printed at the end,
each beside its figure with "met" or "not met". Timings are reported, never asserted. See
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from . import load
from .baseline_app import PATH as BASELINE_PATH
from .load import Connection, HttpError, Operation, Recorder
from .profile import print_shares, recording
from .server import REDIS_KINDS, ROOT, Server, bench_redis, redacted, serve_pair
from .tokens import bench_user, make_tokens

API = "/api/v1"
BASELINE = "baseline"
LOCKS = "lock cycle"
PRESENCE = "presence"


# -- scenarios ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    requests_per_op: int
    make: load.OperationFactory
    on_baseline_app: bool = False


def _baseline(_: int, conn: Connection) -> Operation:
    request = conn.build("POST", BASELINE_PATH)

    async def op(conn: Connection, rec: Recorder) -> None:
        status, _ = await rec.timed(conn, request)
        if status != 200:
            rec.fail(f"baseline answered {status}")

    return op


def _lock_cycle(sessions: list[str], tokens: list[str] | None) -> load.OperationFactory:
    return partial(_one_lock_cycle, sessions, tokens)


def _one_lock_cycle(
    sessions: list[str], tokens: list[str] | None, index: int, conn: Connection
) -> Operation:
    """Acquire then release one lock; every client has its own work session (no contention),
    one that exists in the database, so that every grant writes its fence to its row."""
    path = f"{API}/locks/{sessions[index]}"
    token = None if tokens is None else tokens[index]
    acquire = conn.build("POST", path, b'{"ttl_seconds": 30}', token)

    async def op(conn: Connection, rec: Recorder) -> None:
        status, body = await rec.timed(conn, acquire)
        grant = json.loads(body) if status == 200 else {}
        if not grant.get("acquired"):
            rec.fail(f"acquire answered {status} {body[:120]!r}")
            return
        release = conn.build("DELETE", path, json.dumps({"token": grant["token"]}).encode(), token)
        status, body = await rec.timed(conn, release)
        if status != 200 or b'"released":true' not in body:
            rec.fail(f"release answered {status} {body[:120]!r}")

    return op


def _presence(
    users_per_session: int, sessions: list[uuid.UUID], tokens: list[str] | None
) -> load.OperationFactory:
    def make(index: int, conn: Connection) -> Operation:
        session = sessions[(index // users_per_session) % len(sessions)]
        beat = conn.build(
            "POST",
            f"{API}/presence/{session}",
            f'{{"user_id": "{bench_user(index)}"}}'.encode(),
            None if tokens is None else tokens[index],
        )

        async def op(conn: Connection, rec: Recorder) -> None:
            status, body = await rec.timed(conn, beat)
            if status != 200:
                rec.fail(f"heartbeat answered {status} {body[:120]!r}")

        return op

    return make


def scenarios(
    clients: int,
    users_per_session: int,
    lock_sessions: list[str],
    tokens: list[str] | None = None,
) -> dict[str, Scenario]:
    """`lock_sessions`: client i's work session (in the database) for its lock cycles;
    `tokens`: client i's API token (user `bench-user-i`), when the server requires them.
    Presence needs no session in the database (it lives in Redis alone)."""
    session_count = max(1, -(-clients // users_per_session))
    sessions = [uuid.uuid4() for _ in range(session_count)]
    return {
        BASELINE: Scenario(BASELINE, 1, _baseline, on_baseline_app=True),
        LOCKS: Scenario(LOCKS, 2, _lock_cycle(lock_sessions, tokens)),
        PRESENCE: Scenario(PRESENCE, 1, _presence(users_per_session, sessions, tokens)),
    }


async def make_work_sessions(api: Server, count: int, token: str | None) -> list[str]:
    """`count` new work sessions (in one new space), made through the API as a client makes
    them, over a few connections at once."""

    async def call(conn: Connection, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await conn.send(
            conn.build("POST", f"{API}{path}", json.dumps(body).encode(), token)
        )
        if status != 201:
            raise HttpError(f"POST {path} answered {status}: {answer[:200]!r}")
        created: dict[str, Any] = json.loads(answer)
        return created

    connections = [await Connection.open(api.port) for _ in range(min(8, count))]
    try:
        space = await call(
            connections[0], "/spaces", {"key": f"bench-{uuid.uuid4().hex[:12]}", "name": "Bench"}
        )
        body = {"space_id": space["id"], "session_type": "inspection"}

        async def some(conn: Connection, n: int) -> list[str]:
            return [(await call(conn, "/work-sessions", body))["id"] for _ in range(n)]

        shares = [len(range(i, count, len(connections))) for i in range(len(connections))]
        made = await asyncio.gather(*(some(c, n) for c, n in zip(connections, shares, strict=True)))
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    return [session for part in made for session in part]


# -- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What one pair of servers runs on."""

    redis: str  # single, cluster (`--redis`)
    database: str  # sqlite, postgresql
    auth: str  # off, required
    workers: int


@dataclass
class Run:
    """One timed run of one scenario."""

    scenario: str
    workers: int
    clients: int
    ops_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    server_cpu_pct: float | None
    server_cpu_us_per_request: float | None  # robust to a busy machine, unlike req/s
    bench_cpu_pct: float
    latencies_ns: list[int]


def percentile(sorted_ns: list[int], fraction: float) -> float:
    """Nearest-rank percentile in milliseconds (0 for no samples)."""
    if not sorted_ns:
        return 0.0
    rank = min(len(sorted_ns) - 1, max(0, round(fraction * len(sorted_ns)) - 1))
    return sorted_ns[rank] / 1e6


async def measure(
    server: Server,
    scenario: Scenario,
    clients: int,
    args: argparse.Namespace,
    duration_s: float,
    profile: Path | None = None,
) -> Run:
    """One run; with `profile`, py-spy samples the server meanwhile into that file."""
    cpu_before = server.cpu_seconds()
    with contextlib.ExitStack() as stack:
        if profile is not None:
            stack.enter_context(recording(server.process.pid, profile, duration_s))
        result = await load.run(
            server.port, clients, scenario.make, duration_s=duration_s, max_ops=args.max_ops
        )
        cpu_after = server.cpu_seconds()
    rec = result.recorder
    if rec.first_error is not None:
        print(f"  ! {scenario.name}: {rec.errors} failed, first: {rec.first_error}", flush=True)
    latencies = sorted(rec.latencies_ns)
    server_cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Run(
        scenario=scenario.name,
        workers=server.workers,
        clients=clients,
        ops_per_s=rec.ops / result.elapsed_s,
        requests_per_s=len(latencies) / result.elapsed_s,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        requests=len(latencies),
        errors=rec.errors,
        server_cpu_pct=None if server_cpu_s is None else 100 * server_cpu_s / result.elapsed_s,
        server_cpu_us_per_request=(
            None if server_cpu_s is None or not latencies else 1e6 * server_cpu_s / len(latencies)
        ),
        bench_cpu_pct=100 * result.cpu_s / result.elapsed_s,
        latencies_ns=latencies,
    )


def schedule(rounds: int) -> list[str]:
    """Interleaved order: (baseline, locks, presence) x rounds, then a closing baseline."""
    return [BASELINE, LOCKS, PRESENCE] * rounds + [BASELINE]


# -- reporting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    scenario: str
    redis: str  # single, cluster: the Redis of the run (`--redis`)
    database: str  # sqlite, postgresql
    auth: str  # off, required
    workers: int
    clients: int
    runs: int
    ops_per_s: float
    requests_per_s: float
    ratio_requests: float  # requests/s / baseline requests/s: the fair, per-request comparison
    ratio_ops: float  # ops/s / baseline requests/s (a lock cycle is 2 requests)
    p50_ms: float
    p99_ms: float
    server_cpu_us_per_request: float | None
    baseline_cpu_us_per_request: float | None  # the baseline app's, same configuration
    errors: int


def summarize(runs: list[Run], config: Config | None = None) -> list[Summary]:
    """Mean throughput over a scenario's runs; percentiles over all its requests pooled."""
    by_scenario: dict[str, list[Run]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    config = config or Config("single", "sqlite", "off", runs[0].workers)
    baseline = statistics.fmean(r.requests_per_s for r in by_scenario[BASELINE])
    baseline_cpu = _mean_or_none([r.server_cpu_us_per_request for r in by_scenario[BASELINE]])
    summaries = []
    for name, group in by_scenario.items():
        pooled = sorted(ns for r in group for ns in r.latencies_ns)
        ops = statistics.fmean(r.ops_per_s for r in group)
        requests = statistics.fmean(r.requests_per_s for r in group)
        summaries.append(
            Summary(
                scenario=name,
                redis=config.redis,
                database=config.database,
                auth=config.auth,
                workers=group[0].workers,
                clients=group[0].clients,
                runs=len(group),
                ops_per_s=ops,
                requests_per_s=requests,
                ratio_requests=requests / baseline if baseline else 0.0,
                ratio_ops=ops / baseline if baseline else 0.0,
                p50_ms=percentile(pooled, 0.50),
                p99_ms=percentile(pooled, 0.99),
                server_cpu_us_per_request=_mean_or_none(
                    [r.server_cpu_us_per_request for r in group]
                ),
                baseline_cpu_us_per_request=baseline_cpu,
                errors=sum(r.errors for r in group),
            )
        )
    return summaries


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_runs(runs: list[Run]) -> None:
    print(
        f"\n{'#':>2}  {'scenario':<11} {'ops/s':>8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'server CPU':>10} {'CPU µs/req':>10} {'bench CPU':>9} {'errors':>6}"
    )
    for i, r in enumerate(runs, 1):
        print(
            f"{i:>2}  {r.scenario:<11} {r.ops_per_s:>8.0f} {r.requests_per_s:>8.0f}"
            f" {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {_pct(r.server_cpu_pct):>10}"
            f" {_us(r.server_cpu_us_per_request):>10} {_pct(r.bench_cpu_pct):>9} {r.errors:>6}"
        )


def print_summary(summaries: list[Summary], baseline_runs: list[Run]) -> None:
    spread = [r.requests_per_s for r in baseline_runs]
    print(
        f"\nSummary (mean of runs; baseline = mean of {len(spread)} baseline runs,"
        f" {min(spread):.0f}..{max(spread):.0f} req/s)\n"
    )
    print(
        f"{'scenario':<11} {'ops/s':>8} {'req/s':>8} {'req ratio':>9} {'ops ratio':>9}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} {'errors':>6}"
    )
    for s in summaries:
        print(
            f"{s.scenario:<11} {s.ops_per_s:>8.0f} {s.requests_per_s:>8.0f}"
            f" {s.ratio_requests:>9.0%} {s.ratio_ops:>9.0%} {s.p50_ms:>7.2f} {s.p99_ms:>7.2f}"
            f" {_us(s.server_cpu_us_per_request):>10} {s.errors:>6}"
        )


def print_overview(summaries: list[Summary]) -> None:
    print("\nAll configurations (Redis, database, auth, workers x concurrent connections)\n")
    print(
        f"{'redis':<8} {'database':<10} {'auth':<8} {'workers':>7} {'conns':>6}  {'scenario':<11}"
        f" {'req/s':>8} {'req ratio':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>10}"
        f" {'errors':>6}"
    )
    # Each scenario's kinds of Redis side by side.
    order = {name: index for index, name in enumerate((BASELINE, LOCKS, PRESENCE))}
    kinds = {kind: index for index, kind in enumerate(REDIS_KINDS)}
    ordered = sorted(
        summaries,
        key=lambda s: (
            s.database, s.auth, s.workers, s.clients, order[s.scenario], kinds[s.redis]
        ),
    )  # fmt: skip
    for s in ordered:
        print(
            f"{s.redis:<8} {s.database:<10} {s.auth:<8} {s.workers:>7} {s.clients:>6}"
            f"  {s.scenario:<11} {s.requests_per_s:>8.0f} {s.ratio_requests:>9.0%}"
            f" {s.p50_ms:>8.1f} {s.p99_ms:>8.1f} {_us(s.server_cpu_us_per_request):>10}"
            f" {s.errors:>6}"
        )
    print(
        "\nreq ratio = requests/s ÷ the baseline app's requests/s, same configuration and"
        "\n  connections, same run: the fair comparison, per HTTP request. ops ratio ="
        "\n  operations/s ÷ baseline requests/s; a lock cycle is 2 requests (acquire + release)."
        "\nLatencies are per HTTP request (acquire and release each count)."
        "\nCPU µs/req = server CPU time (all its processes) per request: what a request costs,"
        "\n  which a busy machine changes far less than it changes req/s."
        "\nerrors = requests that failed: any answer but the expected one, or a broken connection."
    )


# -- the aims of issue 15 -----------------------------------------------------------------------

HEARTBEAT_AIMS = {"off": 0.60, "required": 0.50}
"""A heartbeat's requests/s ÷ the bare baseline's, by ROBOSCOPE_AUTH."""
LOCK_CYCLE_AIM = 0.45
"""A lock cycle's requests/s (acquire and release each count) ÷ the bare baseline's."""
SCALING_AIM = 1.6
"""Two worker processes ÷ one, for heartbeats and lock cycles (requests/s)."""


@dataclass(frozen=True)
class AimCheck:
    aim: str
    where: str
    figure: str
    target: str
    met: bool
    note: str = ""
    order: tuple[Any, ...] = ()  # where it is printed: by aim, then configuration


def aim_checks(summaries: list[Summary]) -> list[AimCheck]:
    """Every aim that the measured configurations can say something about."""
    checks = []
    for s in summaries:
        where = f"{s.redis}, {s.database}, {s.workers} worker(s), {s.clients} conns"
        order = (s.auth, s.redis, s.database, s.workers, s.clients)
        cpu = (
            ""
            if s.server_cpu_us_per_request is None or s.baseline_cpu_us_per_request is None
            else f"CPU {s.server_cpu_us_per_request:.0f} µs/req vs bare"
            f" {s.baseline_cpu_us_per_request:.0f}"
        )
        if s.scenario == PRESENCE:
            aim = HEARTBEAT_AIMS[s.auth]
            checks.append(
                AimCheck(
                    f"heartbeat, auth {s.auth}", where, f"{s.ratio_requests:.0%}", f"≥ {aim:.0%}",
                    s.ratio_requests >= aim, f"{s.requests_per_s:.0f} req/s; {cpu}", (0, *order),
                )
            )  # fmt: skip
        elif s.scenario == LOCKS:
            checks.append(
                AimCheck(
                    f"lock acquire+release, auth {s.auth}", where, f"{s.ratio_requests:.0%}",
                    f"≥ {LOCK_CYCLE_AIM:.0%}", s.ratio_requests >= LOCK_CYCLE_AIM,
                    f"{s.requests_per_s:.0f} req/s; {cpu}", (1, *order),
                )
            )  # fmt: skip
    by_key = {(s.redis, s.database, s.auth, s.clients, s.scenario, s.workers): s for s in summaries}
    for (redis, database, auth, clients, scenario, workers), two in by_key.items():
        one = by_key.get((redis, database, auth, clients, scenario, 1))
        bare_one = by_key.get((redis, database, auth, clients, BASELINE, 1))
        bare_two = by_key.get((redis, database, auth, clients, BASELINE, 2))
        if workers != 2 or scenario == BASELINE or None in (one, bare_one, bare_two):
            continue
        assert one is not None and bare_one is not None and bare_two is not None
        scale = two.requests_per_s / one.requests_per_s if one.requests_per_s else 0.0
        bare = bare_two.requests_per_s / bare_one.requests_per_s if bare_one.requests_per_s else 0
        name = "heartbeats" if scenario == PRESENCE else "lock cycles"
        checks.append(
            AimCheck(
                f"two processes, {name}, auth {auth}", f"{redis}, {database}, {clients} conns",
                f"{scale:.2f}x", f"≥ {SCALING_AIM:.1f}x", scale >= SCALING_AIM,
                f"{one.requests_per_s:.0f} → {two.requests_per_s:.0f} req/s;"
                f" the bare baseline {bare:.2f}x", (2, name, auth, redis, database, clients),
            )
        )  # fmt: skip
    return sorted(checks, key=lambda check: check.order)


def print_aims(checks: list[AimCheck]) -> None:
    print("\nAims (issue 15), each against the bare baseline of its own run\n")
    width = max((len(c.aim) for c in checks), default=0)
    for c in checks:
        verdict = "met" if c.met else "not met"
        print(
            f"{c.aim:<{width}}  {c.figure:>6} (aim {c.target})  {verdict:<7}  {c.where}"
            f"{'; ' + c.note if c.note else ''}"
        )


# -- entry point --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./dev bench",
        description="Lock cycles and presence heartbeats over HTTP against a real "
        "`roboscope serve`, beside a separate one-SET-NX baseline app, at several numbers of "
        "concurrent connections and worker processes. Uses ROBOSCOPE_REDIS_URL when set, "
        "else an embedded Redis of its own; with --redis cluster, a Redis Cluster of its own.",
    )

    def seconds(text: str) -> float:
        value = float(text)
        if not 0 < value <= 600:
            raise argparse.ArgumentTypeError("must be in (0, 600] seconds")
        return value

    def bounded(low: int, high: int) -> Callable[[str], int]:
        def parse(text: str) -> int:
            value = int(text)
            if not low <= value <= high:
                raise argparse.ArgumentTypeError(f"must be in [{low}, {high}]")
            return value

        return parse

    def bounded_list(low: int, high: int) -> Callable[[str], list[int]]:
        one = bounded(low, high)

        def parse(text: str) -> list[int]:
            values = [one(part) for part in text.split(",") if part.strip()]
            if not values:
                raise argparse.ArgumentTypeError("give at least one number")
            return values

        return parse

    parser.add_argument(
        "--clients",
        type=bounded_list(1, 5000),
        default=[64],
        help="concurrent connections, comma-separated (64, as in issue 15; e.g. 64,200,1000)",
    )
    parser.add_argument(
        "--workers",
        type=bounded_list(1, 16),
        default=[1, 2],
        help="server worker processes, comma-separated (1,2)",
    )
    parser.add_argument("--duration", type=seconds, default=5.0, help="seconds per run (5)")
    parser.add_argument(
        "--warmup", type=seconds, default=1.0, help="seconds of warm-up per scenario (1)"
    )
    parser.add_argument(
        "--rounds", type=bounded(1, 20), default=1, help="rounds of (baseline, locks, presence) (1)"
    )
    parser.add_argument(
        "--users-per-session",
        type=bounded(1, 512),
        default=8,
        help="presence users per work session (8)",
    )
    parser.add_argument(
        "--max-ops",
        type=bounded(1, 100_000_000),
        default=10_000_000,
        help="upper bound of operations per run, whatever the duration",
    )
    parser.add_argument(
        "--auth",
        type=auth_modes,
        nargs="?",
        const=["required"],
        default=list(AUTH_MODES),
        help="ROBOSCOPE_AUTH of the API, comma-separated: off, required (each client then "
        "sends its own user's API token); each configuration measured with each (off,required;"
        " --auth alone: required)",
    )
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        default=os.environ.get("ROBOSCOPE_BENCH_POSTGRESQL_URL"),
        help="also serve the API on this PostgreSQL database (postgresql+asyncpg://…, a "
        "database of its own: it is migrated, and gets work sessions and tokens); default: "
        "ROBOSCOPE_BENCH_POSTGRESQL_URL, else SQLite only",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record the API server with py-spy during each timed run (into DIR) and print "
        "where its time went; needs py-spy (.venv/bin/pip install py-spy)",
    )
    parser.add_argument(
        "--redis",
        type=redis_kinds,
        default=["single"],
        help="the Redis to run on, comma-separated: single (ROBOSCOPE_REDIS_URL, else an "
        "embedded Redis), cluster (three primaries with a replica each, started by the bench "
        "on loopback ports); each configuration's figures side by side (single)",
    )
    parser.add_argument("--json", type=Path, help="also write the runs and summary here")
    return parser.parse_args(argv)


AUTH_MODES = ("off", "required")


def auth_modes(text: str) -> list[str]:
    modes = [part.strip() for part in text.split(",") if part.strip()]
    if not modes or any(mode not in AUTH_MODES for mode in modes):
        raise argparse.ArgumentTypeError(f"use {' or '.join(AUTH_MODES)}, comma-separated")
    return modes


def redis_kinds(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in REDIS_KINDS]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(f"use {' or '.join(REDIS_KINDS)}, comma-separated")
    return kinds


def raise_fd_limit(needed: int) -> None:
    """Let this process (and the servers it starts, which inherit it) hold `needed` files:
    each connection is one descriptor on each side, and a common soft limit is 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(
                f"error: {needed} open files are needed, but the hard limit is {hard}:"
                " raise it (ulimit -Hn) or use fewer --clients"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def measure_configuration(
    api: Server, baseline: Server, config: Config, clients: int, args: argparse.Namespace
) -> list[Run]:
    """Warm-up, then the interleaved runs of every scenario at `clients` connections."""
    tokens = admin = None
    if config.auth == "required":
        tokens = await make_tokens(api.database_url, clients)
        [admin] = await make_tokens(api.database_url, 1, scope="admin")  # spaces need admin
    lock_sessions = await make_work_sessions(api, clients, admin)
    plan = scenarios(clients, args.users_per_session, lock_sessions, tokens)
    print(
        f"\n== {config.redis} Redis, {config.database}, auth {config.auth}:"
        f" {api.workers} worker(s), {clients} connections",
        flush=True,
    )
    for scenario in plan.values():
        server = baseline if scenario.on_baseline_app else api
        print(f"  warm-up {scenario.name} ({args.warmup:g} s)", flush=True)
        await measure(server, scenario, clients, args, args.warmup)
    runs = []
    for number, name in enumerate(schedule(args.rounds), 1):
        scenario = plan[name]
        server = baseline if scenario.on_baseline_app else api
        profile = None
        if args.profile is not None and not scenario.on_baseline_app:
            label = f"{config.redis}-{config.database}-auth_{config.auth}-{api.workers}w"
            profile = args.profile / f"{label}-{clients}c-{number}-{name.replace(' ', '_')}.txt"
        print(f"  run {name} ({args.duration:g} s)", flush=True)
        runs.append(await measure(server, scenario, clients, args, args.duration, profile))
        if profile is not None:
            print_shares(name, profile)
    print_runs(runs)
    print_summary(summarize(runs, config), [r for r in runs if r.scenario == BASELINE])
    return runs


def databases(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(name, URL) of each database the API is served on: SQLite (a fresh file per server,
    URL None) and, with --postgresql, that database."""
    found: list[tuple[str, str | None]] = [("sqlite", None)]
    if args.postgresql:
        found.append(("postgresql", args.postgresql))
    return found


def migrate(database_url: str) -> None:
    env = {**os.environ, "ROBOSCOPE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "roboscope", "db", "upgrade"], cwd=ROOT, env=env)
    if done.returncode != 0:  # `roboscope db upgrade` has said why
        raise SystemExit(f"error: could not migrate {redacted(database_url)}")


async def bench(args: argparse.Namespace) -> int:
    raise_fd_limit(max(args.clients) * 2 + 1024)
    if args.postgresql:
        migrate(args.postgresql)  # first: a wrong URL fails before any measuring
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    summaries: list[Summary] = []
    labels: dict[str, str] = {}
    for kind in args.redis:
        with bench_redis(kind) as (redis_url, redis_label):
            labels[kind] = redis_label
            print(
                f"Roboscope realtime benchmark: {','.join(map(str, args.clients))} connections,"
                f" {','.join(map(str, args.workers))} worker(s), auth {','.join(args.auth)},"
                f" {args.duration:g} s per run, Redis: {redis_label},"
                f" databases: {', '.join(name for name, _ in databases(args))},"
                f" {os.cpu_count()} CPUs",
                flush=True,
            )
            for database, database_url in databases(args):
                for auth in args.auth:
                    for workers in args.workers:
                        config = Config(kind, database, auth, workers)
                        with serve_pair(
                            redis_url,
                            workers,
                            auth=auth == "required",
                            database_url=database_url,
                        ) as (api, baseline):
                            for clients in args.clients:
                                measured = await measure_configuration(
                                    api, baseline, config, clients, args
                                )
                                runs.extend(measured)
                                summaries.extend(summarize(measured, config))
    print_overview(summaries)
    checks = aim_checks(summaries)
    print_aims(checks)
    if args.json is not None:
        report: dict[str, Any] = {
            "clients": args.clients,
            "workers": args.workers,
            "auth": args.auth,
            "duration_s": args.duration,
            "redis": " / ".join(labels.values()),
            "databases": [name for name, _ in databases(args)],
            "cpus": os.cpu_count(),
            "runs": [{k: v for k, v in asdict(r).items() if k != "latencies_ns"} for r in runs],
            "summary": [asdict(s) for s in summaries],
            "aims": [{k: v for k, v in asdict(c).items() if k != "order"} for c in checks],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(r.errors for r in runs) else 0


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop when installed (it is, with uvicorn[standard]): a cheaper generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run

    def run(main: Coroutine[Any, Any, int]) -> int:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)

    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(signum: int, _: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through `serve()`, which stops the server

    signal.signal(signal.SIGTERM, terminate)
    try:
        return _event_loop_runner()(bench(args))
    except KeyboardInterrupt:
        print("\ninterrupted; server stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
