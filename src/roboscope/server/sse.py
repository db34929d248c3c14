"""Server-Sent Events framing: how a live event looks on the wire (docs/live.md).

An event's frame is made once, by the first stream that sends it, and kept on the event
(`LiveEvent.encoded`): thousands of streams of one session send the same bytes.
"""

from __future__ import annotations

from ..services.live import LiveEvent

PING = b": ping\n\n"
"""The keep-alive comment of an idle stream (not an event: clients ignore it)."""

HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each frame on at once
)


def frame(event: LiveEvent) -> bytes:
    """`event`'s frame, made now if it is the first time."""
    encoded = event.encoded
    if encoded is None:
        encoded = event.encoded = encode(event.name, event.data, event.cursor)
    return encoded


def encode(name: str, data: str, cursor: int | None = None) -> bytes:
    """`id:` (data changes only), `event:`, `data:` lines and the blank line that ends an SSE
    event. JSON has no raw line breaks; anything else is split over `data:` lines."""
    if "\n" in data or "\r" in data:
        data = "\ndata: ".join(data.splitlines())
    head = "" if cursor is None else f"id: {cursor}\n"
    return f"{head}event: {name}\ndata: {data}\n\n".encode()
