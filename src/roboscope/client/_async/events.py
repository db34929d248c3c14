"""A work session's live events, followed across drops: `client.events(session_id)`.

The stream resumes by itself after a dropped connection, a server restart or a `503`, with
`Last-Event-ID` set to the last data change it delivered and full-jitter backoff between
attempts, so the caller sees every change once and in order. What cannot be resumed raises:
`ReloadRequired` (410: the changes after the cursor are no longer kept), `NotFound` (no such
work session) and other refusals. The stream ends after a `work_session.deleted` event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import httpx
from httpx_sse import aconnect_sse

from .._backoff import backoff
from .._calls import Id, uid
from .._concurrency import async_sleep
from ..errors import ConnectionFailed, Unavailable, raise_for_error
from ..events import Event, parse_event

log = logging.getLogger("roboscope.client")

# Reads wait for events; the server sends a comment at least every 15 s on an idle stream,
# so a read that waits much longer than that is a dead connection: reconnect.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=45.0)
MAX_DELAY = 30.0


async def follow_events(
    http: httpx.AsyncClient,
    session_id: Id,
    *,
    since: int | None = None,
    ping: float | None = None,
    on_connect: Callable[[httpx.Response], object] | None = None,
    stopped: Callable[[], bool] = lambda: False,
    wait_for_server: bool = True,
) -> AsyncIterator[Event]:
    """The events after `since` (None: from now on), then live ones, resumed across drops.

    `ping` asks the server for keep-alive comments that often; `on_connect` is handed each
    new response (to close it from elsewhere); once `stopped()` the stream ends instead of
    resuming. Without `wait_for_server`, a first connection that fails raises.
    """
    path = f"/work-sessions/{uid(session_id)}/events"
    params = {} if ping is None else {"ping": str(ping)}
    last = since
    attempt = 0
    connected = False
    while not stopped():
        headers = {"Accept": "text/event-stream"}
        if last is not None:
            headers["Last-Event-ID"] = str(last)
        try:
            async with aconnect_sse(
                http, "GET", path, params=params, headers=headers, timeout=STREAM_TIMEOUT
            ) as source:
                if on_connect is not None:
                    on_connect(source.response)
                if source.response.status_code >= 400:
                    await source.response.aread()
                    raise_for_error(source.response)
                attempt = 0
                connected = True
                previous_id = ""
                async for message in source.aiter_sse():
                    if not message.data:
                        # The SSE spec dispatches nothing for an empty data buffer (a
                        # keep-alive comment); httpx-sse yields it anyway, with the last id.
                        continue
                    # httpx-sse repeats the last `id:` on every later event (the spec's "last
                    # event ID"): only a new one is this event's own cursor. Data changes
                    # carry increasing ids; presence and lock events carry none.
                    own_id = message.id if message.id != previous_id else ""
                    previous_id = message.id
                    event = parse_event(message.event, own_id, message.data)
                    if event.cursor is not None:
                        last = event.cursor
                    if event.kind == "stream":  # dropped (we fell behind) or the server stops:
                        break  # resume from `last`, here or at another process
                    yield event
                    if event.name == "work_session.deleted":
                        return
        except (httpx.TransportError, httpx.StreamError, Unavailable) as error:
            if stopped():
                return
            if not connected and not wait_for_server:
                if isinstance(error, Unavailable):
                    raise
                reason = str(error) or type(error).__name__
                where = f"{str(http.base_url).rstrip('/')}{path}"
                raise ConnectionFailed(f"cannot reach {where}: {reason}") from error
            log.info("event stream of %s interrupted (%s); resuming", session_id, error)
        attempt += 1
        await async_sleep(backoff(attempt, base=0.25, cap=MAX_DELAY))
