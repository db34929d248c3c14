"""A TCP proxy that tests can cut and restore, to take a real service "down" and back, or
partition: stop forwarding without closing anything, as when packets are dropped; or reset
connections, as a restarting or failing-over server does."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

Fault = Literal["stall", "reset"]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pairs: dict[asyncio.StreamWriter, asyncio.StreamWriter] = {}
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._pause_marker: bytes | None = None
        self._reset_marker: bytes | None = None
        self.resets = 0
        self.held = 0
        """Connections whose client sent data that a pause holds (a statement in flight)."""
        self._fault: tuple[int, Fault] | None = None
        self._stopping: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._stopping is not None:
            await self._stopping
            self._stopping = None
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, real: str) -> str:
        """`real` (a service URL, credentials included) pointed at this proxy instead."""
        parts = urlsplit(real)
        credentials, _, _ = parts.netloc.rpartition("@")
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{credentials}@{host}" if credentials else host))

    async def stop(self) -> None:
        """Refuse new connections and drop the open ones, like a crashed server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self.resume()  # wake the pipes of a partition so they see their sockets closed

    def pause(self) -> None:
        """A partition: connections stay open, nothing passes (a new one is never answered).

        Data held meanwhile passes after `resume()`, as TCP retransmits it, unless its sender
        reset the connection (a reset discards what the kernel had not delivered)."""
        self._flowing.clear()

    def pause_before(self, marker: bytes) -> None:
        """Partition as soon as a client sends `marker`, holding that data (e.g. b"COMMIT")."""
        self._pause_marker = marker

    def fault_after(self, writes: int, fault: Fault) -> None:
        """Let `writes` more client writes through (one command each, for a client that waits
        for each answer), then fail at the next: `stall` holds it and everything after it
        (`pause`), `reset` drops it and every connection (`stop`). Lands a fault between two
        calls of one operation, whatever those calls are."""
        self._fault = (writes, fault)

    def reset_on(self, marker: bytes) -> None:
        """Reset the connection (a TCP RST to both ends) instead of passing on the next data
        a client sends that holds `marker`: the server went away mid-statement. New
        connections are served as before, as after a failover."""
        self._reset_marker = marker

    @property
    def connections(self) -> int:
        """Connections open through the proxy."""
        return len(self._pairs) // 2

    def reset_all(self) -> int:
        """Reset every open connection at once (a server restart); answers how many."""
        writers = list(self._writers)
        for writer in writers:
            _reset(writer)
        return len(writers) // 2

    def resume(self) -> None:
        self._pause_marker = None
        self._fault = None
        self._flowing.set()

    async def heal(self) -> None:
        """Undo whatever `fault_after` did, or disarm it if it did nothing yet."""
        self.resume()
        if self._stopping is not None or self._server is None:
            await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        self._pairs[writer] = up_writer
        self._pairs[up_writer] = writer
        await asyncio.gather(
            self._pipe(reader, up_writer, from_client=True), self._pipe(up_reader, writer)
        )
        self._writers -= {writer, up_writer}
        self._pairs.pop(writer, None)
        self._pairs.pop(up_writer, None)

    def _faulted(self) -> bool:
        """Count one client write against `fault_after`; True when it must be dropped."""
        if self._fault is None:
            return False
        left, fault = self._fault
        if left > 0:
            self._fault = (left - 1, fault)
            return False
        self._fault = None
        if fault == "stall":
            self.pause()
            return False
        self._stopping = asyncio.ensure_future(self.stop())
        return True

    def _ends_of(self, writer: asyncio.StreamWriter) -> list[asyncio.StreamWriter]:
        other = self._pairs.get(writer)
        return [writer] if other is None else [writer, other]

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        from_client: bool = False,
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if from_client and self._faulted():
                    break
                marker = self._reset_marker
                if from_client and marker is not None and marker in data:
                    self._reset_marker = None
                    self.resets += 1
                    for end in self._ends_of(writer):
                        _reset(end)
                    break
                if self._pause_marker is not None and self._pause_marker in data:
                    self.pause()
                if not self._flowing.is_set():
                    self.held += from_client
                    try:
                        await self._flowing.wait()
                    finally:
                        self.held -= from_client
                if reader.exception() is not None:
                    break  # the sender reset the connection: what it sent is lost
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), not a FIN: the peer sees a reset connection."""
    sock = writer.transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
