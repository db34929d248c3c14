"""server/direct_chunks.py writes a live stream's frames to the socket only where uvicorn's
own `send` would write exactly those bytes at once. These tests run uvicorn's real
`RequestResponseCycle` on a recording transport: they fail when a uvicorn release changes
the attributes or the chunk framing the module relies on."""

from __future__ import annotations

import asyncio
import logging

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from roboscope.server.direct_chunks import DirectChunks, chunk, direct_chunks

FRAME = b'id: 7\nevent: marker.updated\ndata: {"label":"x"}\n\n'


class Transport(asyncio.Transport):
    """Records what is written; reading and writing can be paused like a socket's."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _cycle(method: str = "GET") -> tuple[RequestResponseCycle, Transport]:
    transport = Transport()
    scope = {"type": "http", "method": method, "path": "/events", "http_version": "1.1"}
    cycle = RequestResponseCycle(
        scope=scope,  # type: ignore[arg-type]
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=True,
        on_response=lambda: None,
    )
    return cycle, transport


async def _streamed_head(cycle: RequestResponseCycle) -> None:
    headers = [(b"content-type", b"text/event-stream")]
    await cycle.send({"type": "http.response.start", "status": 200, "headers": headers})


async def test_a_direct_chunk_is_what_uvicorns_send_writes() -> None:
    by_uvicorn, through_asgi = _cycle()
    await _streamed_head(by_uvicorn)
    await by_uvicorn.send({"type": "http.response.body", "body": FRAME, "more_body": True})

    direct_cycle, direct = _cycle()
    await _streamed_head(direct_cycle)
    writer = direct_chunks(direct_cycle.send)
    assert isinstance(writer, DirectChunks)
    assert writer.write(FRAME)

    # An empty body: uvicorn writes nothing (an empty chunk would end the response).
    await by_uvicorn.send({"type": "http.response.body", "body": b"", "more_body": True})
    assert writer.write(b"")

    # The head, then the same chunk: the same bytes on the wire.
    assert b"".join(direct.written) == b"".join(through_asgi.written)
    assert direct.written[-1] == chunk(FRAME) == b"%x\r\n%b\r\n" % (len(FRAME), FRAME)


async def test_nothing_is_written_directly_where_uvicorn_would_not_write_at_once() -> None:
    cycle, transport = _cycle()
    assert direct_chunks(cycle.send) is None  # no head sent yet
    await _streamed_head(cycle)
    writer = direct_chunks(cycle.send)
    assert writer is not None
    sent = len(transport.written)

    cycle.flow.pause_writing()  # the client's socket is full: uvicorn's send would wait
    assert not writer.write(FRAME)
    cycle.flow.resume_writing()
    cycle.disconnected = True  # the client is gone: uvicorn's send writes nothing
    assert not writer.write(FRAME)
    cycle.disconnected = False
    await cycle.send({"type": "http.response.body", "body": b"", "more_body": False})
    assert not writer.write(FRAME)  # the response is over: uvicorn's send would refuse
    assert transport.written[sent:] == [b"0\r\n\r\n"]


async def test_only_a_chunked_answer_of_uvicorns_own_is_written_directly() -> None:
    sized, _ = _cycle()
    head = [(b"content-length", b"5")]
    await sized.send({"type": "http.response.start", "status": 200, "headers": head})
    assert direct_chunks(sized.send) is None
    head_request, _ = _cycle("HEAD")
    await _streamed_head(head_request)
    assert direct_chunks(head_request.send) is None

    async def other_server(message: object) -> None:
        pass

    assert direct_chunks(other_server) is None


@pytest.mark.parametrize("frames", [[FRAME, FRAME, b"other"], [b"a", b"b", b"a"]])
def test_the_reused_chunk_is_always_the_frames_own(frames: list[bytes]) -> None:
    for frame in frames:
        assert chunk(frame) == b"%x\r\n%b\r\n" % (len(frame), frame)
