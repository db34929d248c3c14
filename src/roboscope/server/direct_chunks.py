"""A live stream's frames written straight to the socket, where uvicorn would write the same.

The hub writes each event to thousands of streams from one loop. Through ASGI each write is a
message dict, a coroutine of uvicorn's `send` stepped in place (server/inline_send.py), its
checks and its chunk framing: most of the fan-out's time in the profile (docs/performance.md,
"Live streams"). When uvicorn's `send` would write a body chunk at once, these bytes and
nothing else (a started, chunked, unfinished response of a connected client whose socket is
not full), `DirectChunks` writes that chunk to the transport itself. In every other case it
writes nothing and the frame takes the ASGI `send`, which waits for the socket to drain,
ignores a gone client or refuses a finished response as it always did.

The private detail, kept for that speed and only in this module (tests/server/test_direct_chunks.py
fails when it changes): the attributes of uvicorn's httptools `RequestResponseCycle`, whose
bound `send` the server hands to the app, and the bytes of its chunked body write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class DirectChunks:
    """One response's body chunks, written to its transport while uvicorn would do the same."""

    __slots__ = ("_cycle", "_flow", "_transport")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._cycle = cycle
        self._flow = cycle.flow
        self._transport = cycle.transport

    def write(self, body: bytes) -> bool:
        """Write `body` as the response's next chunk now; False, writing nothing, when
        uvicorn's `send` would not simply do that (the caller sends it the ASGI way)."""
        cycle = self._cycle
        if self._flow.write_paused or cycle.disconnected or cycle.response_complete:
            return False
        if body:  # (an empty chunk would end the response: uvicorn writes nothing for it)
            self._transport.write(chunk(body))
        return True


def direct_chunks(send: Callable[..., Awaitable[None]]) -> DirectChunks | None:
    """For a response whose head `send` (the server's own) has sent with chunked encoding;
    None for any other server or response."""
    cycle = getattr(send, "__self__", None)
    if (
        type(cycle) is not RequestResponseCycle
        or not cycle.response_started
        or not cycle.chunked_encoding
        or cycle.scope["method"] == "HEAD"
    ):
        return None
    return DirectChunks(cycle)


_last: tuple[bytes, bytes] = (b"", b"")


def chunk(body: bytes) -> bytes:
    """`body` as one HTTP/1.1 chunk, as uvicorn frames it. The fan-out writes one frame to
    every stream in turn: the last frame's chunk is kept and reused."""
    global _last
    last_body, last_chunk = _last
    if body is last_body:
        return last_chunk
    framed = b"%x\r\n%b\r\n" % (len(body), body)
    _last = (body, framed)
    return framed
