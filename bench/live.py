"""Live streams at scale: idle subscribers of one work session on one `roboscope serve`.

    ./dev bench live [--subscribers 1000,5000] [--patches 20] [--idle 15] [--json FILE]

For each number of subscribers, a fresh one-process `roboscope serve` (SQLite, Redis as in
`./dev bench`) gets that many `GET /work-sessions/{id}/events` streams from one work session,
opened by `--client-processes` subscriber processes that read raw asyncio streams (an httpx
client per connection would cost the small machine more than the server does). Measured:

- memory: the server's RSS with every stream open and idle, minus its RSS before, per stream;
- idle CPU: the server's CPU time over `--idle` seconds of open, idle streams (keep-alive
  pings included), minus its CPU with no stream over the same time, per stream-second;
- latency: a writer PATCHes a marker `--patches` times (label `lb-<n>`, the monotonic clock
  read just before each request) and every subscriber notes when that `marker.updated`
  arrives; latency = arrival - send, over every subscriber and PATCH, with missing receipts
  counted (each must arrive);
- the polling it replaces: the server's CPU per `GET /markers?work_session_id=` on a session
  of `--markers` markers, hence what N devices polling every 30 s cost, and polling's mean
  staleness (15 s) against the stream's median latency.

The baseline, measured in the same run by the same subscriber clients: `bench/sse_baseline.py`,
a bare asyncio fan-out of one frame to N sockets, as large as the API's `marker.updated`
frame (measured on the API first: the clients' reading of each frame is part of the delivery
timed). Issue 15's aims (bench/live_aims.py:
opening time and delivery p99 against the bare fan-out's, memory per stream) are printed at
the end, each beside its figure with "met" or "not met". Timings are reported, never
asserted; the command exits 1 when a stream failed or a receipt is missing. See
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection as Pipe
from types import FrameType
from typing import Any

from . import load
from .live_aims import AimCheck, aim_checks, print_aims
from .load import LOOPBACK, Connection, Recorder
from .realtime import _event_loop_runner, percentile, raise_fd_limit
from .server import Server, bench_redis, serve_api, serve_module

API = "/api/v1"
LABEL = b'"label":"lb-'
POLL_INTERVAL_S = 30.0
CONNECTS_IN_FLIGHT = 64  # per subscriber process: streams being opened at once


# -- the subscribers (in their own processes) -------------------------------------------------


@dataclass
class _Subscribers:
    """What one subscriber process saw: per stream, (PATCH number, arrival ns) receipts."""

    count: int
    receipts: list[list[tuple[int, int]]] = field(default_factory=list)
    ready: int = 0
    failed: int = 0
    broken: int = 0
    dropped: int = 0
    first_error: str | None = None
    stopping: bool = False
    frame_bytes: int = 0  # the largest labelled `marker.updated` frame seen
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.first_error = self.first_error or message
        self._check_settled()

    def subscribed(self) -> None:
        self.ready += 1
        self._check_settled()

    def _check_settled(self) -> None:
        if self.ready + self.failed >= self.count:
            self.settled.set()


async def _subscriber(
    index: int, port: int, request: bytes, gate: asyncio.Semaphore, subs: _Subscribers
) -> None:
    """One stream: open it (at most CONNECTS_IN_FLIGHT at once, until `lock.snapshot` says it
    is subscribed), then note the arrival of every labelled `marker.updated`."""
    receipts = subs.receipts[index]
    await gate.acquire()
    gated = True
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200":
            subs.fail(f"stream answered {head[:60]!r}")
            return
        event = b""
        while True:  # chunked transfer: one chunk per server-sent event
            size = int(await reader.readuntil(b"\r\n"), 16)
            if size == 0:
                break
            payload = await reader.readexactly(size + 2)
            now = time.monotonic_ns()
            for line in payload.splitlines():
                if line.startswith(b"event:"):
                    event = line[6:].strip()
                elif line.startswith(b"data:"):
                    if event == b"marker.updated":
                        at = line.find(LABEL)
                        if at >= 0:
                            start = at + len(LABEL)
                            receipts.append((int(line[start : line.index(b'"', start)]), now))
                            subs.frame_bytes = max(subs.frame_bytes, size)
                    elif event == b"lock.snapshot" and gated:
                        gated = False
                        gate.release()
                        subs.subscribed()
                    elif event == b"stream.dropped":
                        subs.dropped += 1
                    event = b""
        if not subs.stopping:
            subs.broken += 1
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        if gated:
            subs.fail(f"stream failed before it was subscribed: {exc!r}")
        elif not subs.stopping:
            subs.broken += 1
            subs.first_error = subs.first_error or f"stream broke: {exc!r}"
    finally:
        if gated:
            gate.release()
        if writer is not None:
            writer.close()


def stream_request(port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nhost: {LOOPBACK}:{port}\r\naccept: text/event-stream\r\n\r\n"
    ).encode()


async def _subscriber_process(pipe: Pipe, port: int, path: str, count: int) -> None:
    """Open `count` streams, say when they are subscribed, then obey the parent: ("await", k,
    timeout) waits until every stream has k receipts; ("stop",) closes them and sends back
    what they saw."""
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    os.set_blocking(pipe.fileno(), True)  # the event loop made it non-blocking: sends are large
    subs = _Subscribers(count, receipts=[[] for _ in range(count)])
    request = stream_request(port, path)
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
    tasks = [asyncio.create_task(_subscriber(i, port, request, gate, subs)) for i in range(count)]
    await subs.settled.wait()
    pipe.send(("ready", subs.ready, subs.failed, subs.first_error, time.process_time()))
    while True:
        command = await commands.get()
        if command[0] == "await":
            wanted, deadline = command[1], time.monotonic() + command[2]
            while time.monotonic() < deadline:
                if all(len(r) >= wanted for r in subs.receipts):
                    break
                await asyncio.sleep(0.02)
            pipe.send(("received", time.process_time()))
        elif command[0] == "stop":
            subs.stopping = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            result = (subs.receipts, subs.failed, subs.broken, subs.dropped, subs.first_error)
            pipe.send(("result", *result, time.process_time()))
            return


def _subscriber_main(pipe: Pipe, port: int, path: str, count: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    _event_loop_runner()(_exit_code(_subscriber_process(pipe, port, path, count)))


async def _exit_code(work: Any) -> int:
    await work
    return 0


@dataclass
class SubscriberPool:
    """The subscriber processes, `count` streams split evenly between them."""

    pipes: list[Pipe]
    processes: list[Any]

    @classmethod
    @contextlib.contextmanager
    def started(cls, port: int, path: str, count: int, processes: int) -> Iterator[SubscriberPool]:
        context = multiprocessing.get_context("spawn")
        shares = [count // processes + (i < count % processes) for i in range(processes)]
        pool = cls([], [])
        try:
            for share in (s for s in shares if s):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_subscriber_main, args=(theirs, port, path, share), daemon=True
                )
                process.start()
                pool.pipes.append(ours)
                pool.processes.append(process)
            yield pool
        finally:
            for process in pool.processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.kill()
                    process.join()

    async def ask(self, command: tuple[Any, ...], wait_s: float) -> list[tuple[Any, ...]]:
        for pipe in self.pipes:
            if command:
                pipe.send(command)
        return await asyncio.gather(*(asyncio.to_thread(_receive, p, wait_s) for p in self.pipes))


def _receive(pipe: Pipe, timeout: float) -> tuple[Any, ...]:
    if not pipe.poll(timeout):
        raise TimeoutError(f"a subscriber process did not answer within {timeout:g} s")
    answer: tuple[Any, ...] = pipe.recv()
    return answer


# -- one measurement ------------------------------------------------------------------------


@dataclass
class Target:
    """A server to measure and how to make one change on it."""

    name: str
    server: Server
    stream_path: str
    change: Callable[[Connection, int], bytes]


@dataclass
class Result:
    target: str
    subscribers: int
    connected: int
    connect_s: float
    rss_before_mb: float | None
    rss_after_mb: float | None
    kb_per_stream: float | None
    idle_cpu_us_per_stream_s: float | None  # server CPU per second per open idle stream
    idle_cpu_pct_total: float | None  # all streams together, % of one core
    change_cpu_ms: float | None  # server CPU per change fanned out to every stream
    change_cpu_us_per_delivery: float | None
    patches: int
    write_p50_ms: float  # the writer's own request (PATCH) latency
    p50_ms: float
    p99_ms: float
    max_ms: float
    receipts: int
    missing: int
    failed: int
    broken: int
    dropped: int
    client_cpu_pct: float  # the subscriber processes, during the PATCHes, % of one core
    first_error: str | None = None


def _per(value: float | None, count: int) -> float | None:
    return None if value is None or not count else value / count


def _cpu(server: Server) -> float:
    seconds = server.cpu_seconds()
    return float("nan") if seconds is None else seconds


def _known(value: float) -> float | None:
    return None if value != value else value  # NaN: no /proc here


async def measure(target: Target, count: int, args: argparse.Namespace) -> Result:
    server = target.server
    print(f"  {target.name}: empty server, {args.idle:g} s idle", flush=True)
    rss_before = server.rss_bytes()
    cpu_start = _cpu(server)
    await asyncio.sleep(args.idle)
    empty_cpu_rate = (_cpu(server) - cpu_start) / args.idle
    print(f"  {target.name}: opening {count} streams", flush=True)
    started = time.monotonic()
    with SubscriberPool.started(
        server.port, target.stream_path, count, args.client_processes
    ) as pool:
        ready = await pool.ask((), wait_s=60 + count / 10)
        connect_s = time.monotonic() - started
        connected = sum(answer[1] for answer in ready)
        await asyncio.sleep(1.0)  # let the last streams settle (buffers, ping tasks)
        rss_after = server.rss_bytes()
        print(
            f"  {target.name}: {connected} subscribed in {connect_s:.1f} s; {args.idle:g} s idle",
            flush=True,
        )
        idle_start, cpu_start = time.monotonic(), _cpu(server)
        await asyncio.sleep(args.idle)
        idle_cpu_rate = (_cpu(server) - cpu_start) / (time.monotonic() - idle_start)
        print(f"  {target.name}: {args.patches} changes, {args.spacing:g} s apart", flush=True)
        marks = await pool.ask(("await", 0, 0.0), wait_s=10.0)
        changes_start, cpu_start = time.monotonic(), _cpu(server)
        sent, write_ns = await _write(target, args)
        received = await pool.ask(("await", args.patches, 30.0), wait_s=40.0)
        changes_s = time.monotonic() - changes_start
        cpu_change = _cpu(server) - cpu_start - idle_cpu_rate * changes_s
        client_cpu = sum(a[1] for a in received) - sum(a[1] for a in marks)
        results = await pool.ask(("stop",), wait_s=60.0)
    latencies, missing, extra = _latencies(results, sent)
    failed = sum(r[2] for r in results)  # streams that never subscribed
    first_error = next((r[5] for r in results if r[5]), None) or next(
        (a[3] for a in ready if a[3]), None
    )
    kb = None if rss_before is None or rss_after is None else (rss_after - rss_before) / 1024
    idle_extra = _known(idle_cpu_rate - empty_cpu_rate)
    change_cpu = _known(cpu_change / args.patches)
    return Result(
        target=target.name,
        subscribers=count,
        connected=connected,
        connect_s=connect_s,
        rss_before_mb=None if rss_before is None else rss_before / 2**20,
        rss_after_mb=None if rss_after is None else rss_after / 2**20,
        kb_per_stream=_per(kb, connected),
        idle_cpu_us_per_stream_s=_per(None if idle_extra is None else 1e6 * idle_extra, connected),
        idle_cpu_pct_total=None if idle_extra is None else 100 * idle_extra,
        change_cpu_ms=None if change_cpu is None else 1e3 * change_cpu,
        change_cpu_us_per_delivery=_per(
            None if change_cpu is None else 1e6 * change_cpu, connected
        ),
        patches=args.patches,
        write_p50_ms=percentile(sorted(write_ns), 0.5),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] / 1e6 if latencies else 0.0,
        receipts=len(latencies),
        missing=missing,  # a stream that never subscribed misses every change
        failed=failed,
        broken=sum(r[3] for r in results) + extra,
        dropped=sum(r[4] for r in results),
        client_cpu_pct=100 * client_cpu / changes_s,
        first_error=first_error,
    )


async def _write(target: Target, args: argparse.Namespace) -> tuple[dict[int, int], list[int]]:
    """The writer: change number n is sent at sent[n] (monotonic ns, just before the request)."""
    conn = await Connection.open(target.server.port)
    sent: dict[int, int] = {}
    write_ns = []
    try:
        for n in range(1, args.patches + 1):
            request = target.change(conn, n)
            sent[n] = time.monotonic_ns()
            status, body = await conn.send(request)
            write_ns.append(time.monotonic_ns() - sent[n])
            if status != 200:
                raise SystemExit(f"error: change {n} answered {status}: {body[:200]!r}")
            await asyncio.sleep(max(0.0, args.spacing - (time.monotonic_ns() - sent[n]) / 1e9))
    finally:
        await conn.close()
    return sent, write_ns


def _latencies(results: list[tuple[Any, ...]], sent: dict[int, int]) -> tuple[list[int], int, int]:
    """(sorted latencies ns, missing receipts, unexpected or repeated receipts)."""
    latencies: list[int] = []
    missing = extra = 0
    for result in results:
        for receipts in result[1]:
            seen = {n for n, _ in receipts}
            missing += len(sent.keys() - seen)
            extra += len(receipts) - len(seen) + len(seen - sent.keys())
            latencies.extend(at - sent[n] for n, at in receipts if n in sent)
    latencies.sort()
    return latencies, missing, extra


# -- the polling it replaces ----------------------------------------------------------------


@dataclass
class Polling:
    markers: int
    cpu_us_per_poll: float | None
    poll_p50_ms: float
    answer_bytes: int


async def measure_polling(api: Server, session: str, args: argparse.Namespace) -> Polling:
    path = f"{API}/markers?work_session_id={session}"
    answer_bytes = 0

    def make(_: int, conn: Connection) -> load.Operation:
        request = conn.build("GET", path)

        async def op(conn: Connection, rec: Recorder) -> None:
            nonlocal answer_bytes
            status, body = await rec.timed(conn, request)
            answer_bytes = len(body)
            if status != 200:
                rec.fail(f"GET markers answered {status}")

        return op

    cpu_start = api.cpu_seconds()
    result = await load.run(api.port, 4, make, duration_s=args.poll_seconds, max_ops=1_000_000)
    cpu_end = api.cpu_seconds()
    polls = len(result.recorder.latencies_ns)
    if result.recorder.errors:
        raise SystemExit(f"error: polling failed: {result.recorder.first_error}")
    cpu = None if cpu_start is None or cpu_end is None or not polls else cpu_end - cpu_start
    return Polling(
        markers=args.markers,
        cpu_us_per_poll=None if cpu is None else 1e6 * cpu / polls,
        poll_p50_ms=percentile(sorted(result.recorder.latencies_ns), 0.5),
        answer_bytes=answer_bytes,
    )


# -- set-up ---------------------------------------------------------------------------------


def _api_json(api: Server, method: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{api.port}{API}{path}",
        method=method,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def prepare_session(api: Server, markers: int) -> tuple[str, str]:
    """(session id, the id of the marker the writer changes): a session of `markers` markers."""
    space = _api_json(api, "POST", "/spaces", {"key": f"live-{os.getpid()}", "name": "Live"})
    session = _api_json(
        api, "POST", "/work-sessions", {"space_id": space["id"], "session_type": "inspection"}
    )
    corners = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
    created = _api_json(
        api,
        "POST",
        "/markers/bulk",
        {"markers": [{"work_session_id": session["id"], **corners} for _ in range(markers)]},
    )
    return session["id"], created[0]["id"]


def api_target(api: Server, session: str, marker: str) -> Target:
    def change(conn: Connection, n: int) -> bytes:
        return conn.build("PATCH", f"{API}/markers/{marker}", b'{"label": "lb-%d"}' % n)

    return Target("roboscope serve", api, f"{API}/work-sessions/{session}/events", change)


def baseline_target(server: Server, frame_bytes: int) -> Target:
    """The bare fan-out, sending frames of `frame_bytes` (the API's): reading each frame is
    part of the delivery timed, so both deliver frames of one size."""

    def change(conn: Connection, n: int) -> bytes:
        return conn.build("POST", f"/fire?seq={n}&size={frame_bytes}")

    return Target(BARE_NAME, server, "/events", change)


async def warm_up(target: Target) -> int:
    """One stream opened and closed and one change, so imports and caches are not counted as
    the streams' memory; the size of that change's frame."""
    gate = asyncio.Semaphore(1)
    subs = _Subscribers(1, receipts=[[]])
    request = stream_request(target.server.port, target.stream_path)
    task = asyncio.create_task(_subscriber(0, target.server.port, request, gate, subs))
    async with asyncio.timeout(30):
        await subs.settled.wait()
    conn = await Connection.open(target.server.port)
    try:
        await conn.send(target.change(conn, 0))
    finally:
        await conn.close()
    await asyncio.sleep(0.3)
    subs.stopping = True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if subs.failed:
        raise SystemExit(f"error: {target.name}: {subs.first_error}")
    await asyncio.sleep(0.5)
    return subs.frame_bytes


# -- reporting ------------------------------------------------------------------------------


def _f(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_results(results: list[Result], polling: dict[int, Polling]) -> None:
    print(
        f"\n{'target':<16} {'streams':>7} {'connect s':>9} {'KB/stream':>9}"
        f" {'idle µs/stream·s':>16} {'change CPU ms':>13} {'write p50':>9} {'p50 ms':>7}"
        f" {'p99 ms':>7} {'max ms':>7} {'missing':>7} {'failed':>6} {'client CPU':>10}"
    )
    for r in results:
        print(
            f"{r.target:<16} {r.connected:>7} {r.connect_s:>9.1f} {_f(r.kb_per_stream):>9}"
            f" {_f(r.idle_cpu_us_per_stream_s, '.2f'):>16} {_f(r.change_cpu_ms):>13}"
            f" {r.write_p50_ms:>9.1f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} {r.max_ms:>7.1f}"
            f" {r.missing:>7} {r.failed + r.broken + r.dropped:>6} {r.client_cpu_pct:>9.0f}%"
        )
    print("\nThe same devices polling GET /markers every 30 s instead")
    print(
        f"\n{'devices':>7} {'polls/s':>8} {'poll CPU µs':>11} {'polling CPU':>11}"
        f" {'streams idle CPU':>16} {'polling staleness':>17} {'stream p50':>10}"
        f" {'freshness':>9}"
    )
    for r in results:
        poll = polling.get(r.subscribers)
        if r.target != API_NAME or poll is None:
            continue
        rate = r.subscribers / POLL_INTERVAL_S
        poll_cpu = None if poll.cpu_us_per_poll is None else rate * poll.cpu_us_per_poll / 1e4
        ratio = (POLL_INTERVAL_S / 2) / (r.p50_ms / 1e3) if r.p50_ms else None
        print(
            f"{r.subscribers:>7} {rate:>8.1f} {_f(poll.cpu_us_per_poll, '.0f'):>11}"
            f" {_f(poll_cpu):>10}% {_f(r.idle_cpu_pct_total):>15}%"
            f" {POLL_INTERVAL_S / 2:>16.1f}s {r.p50_ms:>8.1f}ms {_f(ratio, '.0f'):>8}x"
        )
    print(
        "\nKB/stream = server RSS with the streams open minus before, per stream."
        "\nidle µs/stream·s = server CPU per second per open idle stream (pings included), beyond"
        "\n  the empty server's; streams idle CPU = all of them, % of one core."
        "\nchange CPU = server CPU per change delivered to every stream (beyond idle)."
        "\nwrite p50 = the writer's own request; p50/p99/max = send of the change to its arrival"
        "\n  at each stream, over every stream and change. missing must be 0."
        "\npolling CPU = devices/30 polls per second x the CPU of one poll, % of one core;"
        "\n  polling staleness = half the interval on average; freshness = that ÷ stream p50."
    )


API_NAME = "roboscope serve"
BARE_NAME = "bare fan-out"


def judged(results: list[Result]) -> list[AimCheck]:
    """Issue 15's aims for each size measured (bench/live_aims.py)."""
    bare = {r.subscribers: r for r in results if r.target == BARE_NAME}
    return [
        check
        for r in results
        if r.target == API_NAME
        for check in aim_checks(r, bare.get(r.subscribers))
    ]


# -- entry point ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./dev bench live",
        description="Idle live-stream subscribers of one work session on one `roboscope serve`"
        " process: change latency at every subscriber, memory and idle CPU per stream, beside a"
        " bare fan-out baseline and the 30 s polling they replace. Uses ROBOSCOPE_REDIS_URL"
        " when set, else an embedded Redis of its own.",
    )

    def counts(text: str) -> list[int]:
        values = [int(part) for part in text.split(",") if part.strip()]
        if not values or not all(1 <= v <= 20_000 for v in values):
            raise argparse.ArgumentTypeError("give numbers in [1, 20000], comma-separated")
        return values

    def bounded(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
        def parse(text: str) -> Any:
            value = kind(text)
            if not low <= value <= high:
                raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}]")
            return value

        return parse

    parser.add_argument(
        "--subscribers", type=counts, default=[1000, 5000], help="streams, comma-separated"
    )
    parser.add_argument(
        "--patches", type=bounded(int, 1, 1000), default=20, help="changes to time (20)"
    )
    parser.add_argument(
        "--spacing", type=bounded(float, 0.01, 10), default=0.5, help="seconds between (0.5)"
    )
    parser.add_argument(
        "--idle", type=bounded(float, 0.1, 120), default=15.0, help="idle window, s (15)"
    )
    parser.add_argument(
        "--markers", type=bounded(int, 1, 1000), default=50, help="markers in the session (50)"
    )
    parser.add_argument(
        "--poll-seconds", type=bounded(float, 0.1, 60), default=3.0, help="poll burst, s (3)"
    )
    parser.add_argument(
        "--client-processes",
        type=bounded(int, 1, 16),
        default=2,
        help="subscriber processes the streams are split between (2)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare fan-out")
    parser.add_argument("--json", type=argparse.FileType("w"), help="also write the results")
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace) -> int:
    raise_fd_limit(max(args.subscribers) * 2 + 1024)
    results: list[Result] = []
    polling: dict[int, Polling] = {}
    with bench_redis() as (redis_url, redis_label):
        print(
            f"Roboscope live benchmark: {','.join(map(str, args.subscribers))} streams on one"
            f" process, {args.patches} changes, {args.client_processes} subscriber process(es),"
            f" Redis: {redis_label}, {os.cpu_count()} CPUs",
            flush=True,
        )
        for count in args.subscribers:
            print(f"\n== {count} streams", flush=True)
            # The API first: the bare fan-out then sends frames as large as the API's.
            with serve_api(redis_url) as api:
                session, marker = prepare_session(api, args.markers)
                target = api_target(api, session, marker)
                frame_bytes = await warm_up(target)
                api_result = await measure(target, count, args)
                print(f"  polling: {args.poll_seconds:g} s of GET /markers", flush=True)
                polling[count] = await measure_polling(api, session, args)
            if not args.no_baseline:
                with serve_module(BARE_NAME, "bench.sse_baseline") as bare:
                    print(f"  {BARE_NAME}: frames of {frame_bytes} bytes, as the API's")
                    target = baseline_target(bare, frame_bytes)
                    await warm_up(target)
                    results.append(await measure(target, count, args))
            results.append(api_result)
    print_results(results, polling)
    checks = judged(results)
    print_aims(checks)
    for r in results:
        if r.first_error:
            print(f"  ! {r.target} at {r.subscribers}: {r.first_error}", file=sys.stderr)
    if args.json is not None:
        report = {
            "subscribers": args.subscribers,
            "patches": args.patches,
            "client_processes": args.client_processes,
            "redis": redis_label,
            "cpus": os.cpu_count(),
            "results": [asdict(r) for r in results],
            "polling": {str(k): asdict(v) for k, v in polling.items()},
            "aims": [asdict(c) for c in checks],
        }
        json.dump(report, args.json, indent=2)
        args.json.write("\n")
        args.json.close()
    bad = any(r.missing or r.failed or r.broken or r.dropped for r in results)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(signum: int, _: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through the servers' context managers

    signal.signal(signal.SIGTERM, terminate)
    try:
        return _event_loop_runner()(bench(args))
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
