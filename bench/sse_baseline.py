"""The live benchmark's baseline: the bare minimum of a server-sent event fan-out.

Raw asyncio streams on uvloop, one process, nothing of ours and no framework: `GET /events`
answers a chunked `text/event-stream` that starts with a `lock.snapshot` frame (so that the
benchmark's subscribers see "subscribed" exactly as with the API), and
`POST /fire?seq=N&size=S` writes one `marker.updated` frame of S bytes (its data padded; as
small as it can be without `size`) to every open stream before it answers `200`: the
benchmark asks for frames as large as the API's, since the clients' reading of each frame is
part of the delivery it times. The
same subscriber clients, the same machine and the same run measure it beside the API, so the
API's latency can be read against what merely delivering a frame to N sockets takes here.

    python -m bench.sse_baseline --port 8090
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-store\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


def chunk(frame: bytes) -> bytes:
    """One HTTP/1.1 chunk holding one SSE frame, as uvicorn sends a streamed body."""
    return b"%x\r\n%s\r\n" % (len(frame), frame)


class FanOut:
    def __init__(self) -> None:
        self.streams: set[asyncio.StreamWriter] = set()
        self.cursor = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1]
                if target.startswith(b"/events"):
                    await self._stream(reader, writer)
                    return
                if target.startswith(b"/fire"):
                    query = dict(
                        pair.partition(b"=")[::2] for pair in target.partition(b"?")[2].split(b"&")
                    )
                    self.fire(query.get(b"seq", b"0"), int(query.get(b"size", b"0")))
                writer.write(_OK)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_HEAD + chunk(b"event: lock.snapshot\r\ndata: {}\r\n\r\n"))
        self.streams.add(writer)
        try:
            await reader.read()  # until the client goes away
        finally:
            self.streams.discard(writer)

    def fire(self, seq: bytes, size: int) -> None:
        self.cursor += 1
        frame = _frame(self.cursor, seq, b"")
        if size > len(frame):
            frame = _frame(self.cursor, seq, b"x" * (size - len(frame) - len(b',"pad":""')))
        chunked = chunk(frame)
        for stream in self.streams:
            stream.write(chunked)


def _frame(cursor: int, seq: bytes, pad: bytes) -> bytes:
    padding = b',"pad":"%s"' % pad if pad else b""
    return b'id: %d\r\nevent: marker.updated\r\ndata: {"label":"lb-%s"%s}\r\n\r\n' % (
        cursor,
        seq,
        padding,
    )


async def main(port: int) -> None:
    fan_out = FanOut()
    server = await asyncio.start_server(fan_out.serve, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(main(port))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(main(port))
