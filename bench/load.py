"""A deliberately cheap HTTP/1.1 load generator: asyncio streams, keep-alive, closed loop.

The server under test and this generator share one small machine, so every CPU cycle spent
here is taken from the server. A general client (httpx) spends several times more per request
than the server's own framework, which would make every scenario look alike. This one writes
pre-built request bytes and reads `content-length` (or chunked) bodies, nothing more: enough for the
server's JSON answers, and the same code drives the baseline and the scenarios, so their
ratio stays fair.

Every loop is bounded: each run stops at its deadline or after `max_ops` operations, and a
watchdog cancels a run that outlives its deadline by `grace` seconds (a hung server).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"


class HttpError(Exception):
    """The server broke the connection or answered something this client cannot read."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, used by one client at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: bytes):
        self._reader = reader
        self._writer = writer
        self._host = host

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        return cls(reader, writer, f"{LOOPBACK}:{port}".encode())

    def build(self, method: str, path: str, body: bytes = b"", token: str | None = None) -> bytes:
        """The bytes of one request, built once and reused when they never change; `token`
        is an API token, sent as `Authorization: Bearer …`."""
        auth = "" if token is None else f"authorization: Bearer {token}\r\n"
        head = (
            f"{method} {path} HTTP/1.1\r\n"
            f"host: {self._host.decode()}\r\n"
            f"{auth}"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request, read its answer: (status, body)."""
        self._writer.write(request)
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = -1
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
            if chunked:
                body = await self._read_chunks()
            elif length < 0:
                raise HttpError("answer without content-length")
            else:
                body = await self._reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            raise HttpError(f"connection failed: {exc!r}") from exc
        return status, body

    async def _read_chunks(self) -> bytes:
        """A `transfer-encoding: chunked` body (long lists are streamed a chunk at a time)."""
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers are sent
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


@dataclass
class Recorder:
    """What one run observed: per-request latencies (ns), operations, failures."""

    latencies_ns: list[int] = field(default_factory=list)
    ops: int = 0
    errors: int = 0
    first_error: str | None = None

    async def timed(self, conn: Connection, request: bytes) -> tuple[int, bytes]:
        """Send `request` and record its latency."""
        started = time.perf_counter_ns()
        answer = await conn.send(request)
        self.latencies_ns.append(time.perf_counter_ns() - started)
        return answer

    def fail(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message


Operation = Callable[[Connection, Recorder], Awaitable[None]]
"""One operation of one client (it may send several requests through `Recorder.timed`)."""

OperationFactory = Callable[[int, Connection], Operation]
"""Builds client `index`'s operation on its own connection (pre-building its requests)."""


@dataclass(frozen=True)
class RunResult:
    recorder: Recorder
    elapsed_s: float
    cpu_s: float  # this process's CPU time during the run


async def run(
    port: int,
    clients: int,
    make_operation: OperationFactory,
    *,
    duration_s: float,
    max_ops: int,
    grace_s: float = 30.0,
) -> RunResult:
    """`clients` connections, each repeating its operation until the deadline or `max_ops`.

    Connections are opened, and each does one untimed operation, before the clock starts: the
    server has then accepted every connection. (Otherwise the first requests of many fresh
    connections measure how fast a loaded server accepts connections, up to seconds with
    1,000 of them, which no steady client sees.) Failures of that first operation count as
    errors. Throughput is measured up to the moment the last in-flight operation finishes
    (closed loop: a client sends its next request only when the previous one was answered).
    """
    connections = [await Connection.open(port) for _ in range(clients)]
    recorder = Recorder()
    try:
        operations = [make_operation(i, conn) for i, conn in enumerate(connections)]
        pairs = list(zip(connections, operations, strict=True))
        priming = Recorder()  # its latencies are dropped, its failures are not
        async with asyncio.timeout(duration_s + grace_s):
            primed = await asyncio.gather(
                *(op(conn, priming) for conn, op in pairs), return_exceptions=True
            )
        recorder.errors, recorder.first_error = priming.errors, priming.first_error
        for outcome in primed:
            if isinstance(outcome, HttpError):
                recorder.fail(str(outcome))  # that connection is unusable: it sits out the run
            elif isinstance(outcome, BaseException):
                raise outcome
        pairs = [pair for pair, outcome in zip(pairs, primed, strict=True) if outcome is None]
        started = time.perf_counter()
        cpu_started = time.process_time()
        deadline = started + duration_s

        async def client(conn: Connection, operation: Operation) -> None:
            while time.perf_counter() < deadline and recorder.ops < max_ops:
                try:
                    await operation(conn, recorder)
                except HttpError as exc:
                    recorder.fail(str(exc))
                    return  # this connection is unusable; the others carry on
                recorder.ops += 1

        tasks = [client(c, op) for c, op in pairs]
        async with asyncio.timeout(duration_s + grace_s):
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        await asyncio.gather(*(conn.close() for conn in connections), return_exceptions=True)
    return RunResult(recorder=recorder, elapsed_s=elapsed, cpu_s=cpu)
