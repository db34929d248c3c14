"""The raw `send`: the one channel by which the live stream's frames skip the app's layers.

Every layer between the server and a response (Starlette's error middleware, the edge's
request log, CORS, FastAPI's exception handling and routing) wraps the ASGI `send` in a
coroutine of its own, to see the response head. A live stream writes each event to thousands
of streams from the hub's loop, one write per stream (server/event_stream.py), where that
chain of coroutines per frame would cost more than the write itself. So the app itself
(`RoboscopeAPI` in server/app.py), before any layer, leaves the `send` the server gave it in
the request's scope (`provide`), and the stream sends its frames there (`beneath`), or
straight to the socket when that `send` is uvicorn's and would write them at once
(server/direct_chunks.py).

It goes through the scope because FastAPI passes nothing else from the app to a response.
The rules, kept by the only two callers:

- only the app provides it, for every HTTP request; only the live stream takes it;
- only the body frames after the response head use it: the head and the end of the
  response go the ordinary way, through every layer, so each sees its response start and
  end (the edge logs the stream's status and duration, the error middleware knows that a
  response started);
- what the skipped layers do with body frames must not matter: they look at heads only
  (a layer that changed or counted body bytes would be skipped for these frames).
"""

from __future__ import annotations

from starlette.types import Scope, Send

_SCOPE_KEY = "roboscope.raw_send"


def provide(scope: Scope, send: Send) -> None:
    """The app: `send`, as the server gave it, for the frames of a live stream."""
    scope[_SCOPE_KEY] = send


def beneath(scope: Scope, wrapped: Send) -> Send:
    """The live stream: the send the app was given, or `wrapped` (the response's own) when
    nothing provided one (a response run outside `RoboscopeAPI`)."""
    raw: Send | None = scope.get(_SCOPE_KEY)
    return wrapped if raw is None else raw
