"""The raw `send` channel (server/raw_send.py): the app gives the live stream the `send` the
server gave it, beneath Starlette's error middleware, the edge's wrapper and every layer
inside them; without it, the stream keeps its own."""

from __future__ import annotations

from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from roboscope.server import raw_send
from roboscope.server.app import RoboscopeAPI
from roboscope.server.middleware import Edge


async def test_the_app_provides_the_servers_send_beneath_every_layer() -> None:
    seen: list[tuple[Send, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((send, raw_send.beneath(scope, send)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await raw_send.beneath(scope, send)({"type": "http.response.body", "body": b"frame"})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    sent: list[Message] = []

    async def server_send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/x/",
        "headers": [],
        "query_string": b"",
    }
    api = RoboscopeAPI()
    api.add_middleware(Edge, max_body_bytes=1024, hot_routes=False)
    api.router.routes.append(Mount("/x", app=app))
    await api(scope, receive, server_send)

    [(wrapped, raw)] = seen
    assert raw is server_send and wrapped is not server_send
    # The head went through the layers (the edge adds the request id); the frame did not.
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 2]
    assert any(name == b"x-request-id" for name, _ in sent[0]["headers"])
    assert sent[1]["body"] == b"frame"


async def test_without_the_edge_the_stream_keeps_its_own_send() -> None:
    async def own(message: Message) -> None:
        pass

    assert raw_send.beneath({"type": "http"}, own) is own
