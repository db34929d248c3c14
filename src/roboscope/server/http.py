"""uvicorn's httptools protocol with limits on the request head, so slow or hostile clients
cannot hold sockets or memory.

uvicorn bounds neither the size nor the number of header fields with httptools (llhttp has no
limit) and has no header-read timeout: a socket that sends half a request line is kept for
ever, and a few thousand of them exhaust the file descriptors. This subclass adds, per request
head (cheap counters, nothing on the body or the app's path):

- more than `max_header_bytes` of request line and headers → 431, connection closed;
- more than `max_headers` header fields → 431, connection closed;
- a head not complete `header_timeout` seconds after the connection opened (or, on a
  keep-alive connection, after the next request began) → 408, connection closed.

Idle keep-alive connections are uvicorn's own `timeout_keep_alive`.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS = {
    408: b"HTTP/1.1 408 Request Timeout\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
}


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing; `send_400_response` answers 431."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._in_head = True
        self._head_bytes = 0  # bytes received since the head began, while it is incomplete
        self._head_fields = 0
        self._head_size = 0  # request line and header fields parsed so far
        self._refused = False
        self._began = False  # a head began in the chunk being parsed (counted by the callbacks)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._began = False
        super().data_received(data)
        if (
            self._in_head
            and not self._began
            and not self._refused
            and not self.transport.is_closing()
        ):
            # Everything received while the head is incomplete is head: a head arriving in
            # small pieces is refused before llhttp buffers more than this.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, "request headers too large")

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._head_fields = self._head_size = 0
        self._began = True
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > self.limits.max_headers:
            self._refused = True
            raise _HeadRefused("too many header fields")
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            self._refuse(431, "request headers too large or too many")
        else:
            super().send_400_response(msg)

    # -- internals ---------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.limits.max_header_bytes:
            self._refused = True
            raise _HeadRefused("request head too large")

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            if self._head_bytes or self._head_size:
                self._refuse(408, "request headers not received in time")
            else:
                self.transport.close()  # never said anything: nothing to answer

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._cancel_head_timer()
        body = f'{{"error": "{"request_timeout" if status == 408 else "headers_too_large"}", '
        body += f'"message": "{message}"}}'
        self.transport.write(
            _STATUS[status]
            + b"content-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + body.encode()
        )
        self.transport.close()


def protocol_factory(limits: HttpLimits) -> type[asyncio.Protocol]:
    """What `uvicorn.run(http=...)` takes: a picklable factory (workers are spawned)."""
    return cast(
        "type[asyncio.Protocol]", functools.partial(GuardedHttpToolsProtocol, limits=limits)
    )
