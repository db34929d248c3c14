"""A TCP proxy that tests can cut and restore, to take a real service "down" and back, or
partition: stop forwarding without closing anything, as when packets are dropped."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._pause_marker: bytes | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

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

    def resume(self) -> None:
        self._pause_marker = None
        self._flowing.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self._pause_marker is not None and self._pause_marker in data:
                    self.pause()
                await self._flowing.wait()
                if reader.exception() is not None:
                    break  # the sender reset the connection: what it sent is lost
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
