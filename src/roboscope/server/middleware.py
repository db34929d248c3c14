"""The edge: one pure ASGI layer in front of the app, for what every API answer needs.

One layer instead of one per concern: each layer of middleware wraps `send` once more and adds
its calls to every request, and on the hottest routes (presence heartbeats, lock cycles) the
layers together cost about as much as the route's own work (docs/performance.md). In order:

1. The request id (`X-Request-ID`), the request's log line and its metrics (request_log.py),
   and `Cache-Control: no-store` on every answer that does not set its own (iOS caches GET
   responses otherwise), all in one wrapper of `send`. The live stream's frames, after a
   head that passed here, skip it (`raw_send`: the one such channel, server/raw_send.py says
   why and its rules).
2. CORS, when ROBOSCOPE_CORS_ORIGINS lists origins (server/cors.py): after 1, so preflights
   and refusals get request ids and log lines; before 3, so every refusal gets CORS headers.
3. Writes (POST, PUT, PATCH, DELETE) are checked before the app parses anything, in one pass
   over the headers, each refusal a short JSON error:
   - 403 when the request comes from a page of another web site: a page elsewhere can send
     a body-less POST without a preflight, and no content type at all. Such a write carries
     an `Origin` that is neither this server's own (the `Host` it was sent to, or the
     `X-Forwarded-Host` of a proxy: a page cannot set that header without a preflight) nor
     on the CORS allow-list (ROBOSCOPE_CORS_ORIGINS); `Origin: null` (sandboxed frames,
     local files) is never allowed. Older browsers send no `Origin` on some writes but say
     where they come from in `Sec-Fetch-Site`. Native clients (the iOS apps, the SDK, curl)
     send neither;
   - 415 when the body is not JSON: a `Content-Type` that is not `application/json` (or
     `application/…+json`), or a non-empty body without one. A web page can send
     `text/plain`, form and multipart bodies anywhere without a CORS preflight, but not
     JSON, so this is also what keeps other sites from taking locks. A body-less write
     without a content type (`curl -X DELETE …`) is accepted;
   - 413 beyond the body limit, on the declared length and on the bytes actually read. The
     limit is ROBOSCOPE_MAX_BODY_BYTES, or a route's own (`body_limits`: the bulk marker
     create takes up to 10,000 markers), decided by method and path before anything is read.
4. The hot routes (server/hot_routes.py: heartbeats, lock acquires and releases) answer the
   writes they can answer exactly as their FastAPI routes would, and a plain opening of a
   live stream is served the same way (server/hot_stream.py); everything else goes to the
   app.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import logs
from .cors import Cors
from .errors import error_response
from .hot_routes import HotRoutes
from .methods import WRITE_METHODS
from .request_log import CLIENT_CLOSED, REQUEST_ID_HEADER, RequestLog, request_id_of

_OWN_SITE = frozenset({b"same-origin", b"none"})  # `none`: typed in the address bar
_EVENT_STREAM = b"text/event-stream"
_NO_STORE = (b"cache-control", b"no-store")


def is_json_media_type(content_type: bytes) -> bool:
    """`application/json` or `application/…+json`, any parameters: what FastAPI parses as
    JSON (anything else reaches a handler as raw bytes)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


_DEFAULT_PORTS = {b"http": b":80", b"https": b":443"}


def _own_origin(origin: bytes, hosts: list[bytes]) -> bool:
    """Whether `origin` (`scheme://host[:port]`) names the host the request was sent to: a
    page this server serves (the API docs). Compared without the scheme, which a
    TLS-terminating proxy changes; a default port counts as absent."""
    scheme, separator, authority = origin.strip().lower().partition(b"://")
    if not separator or not authority:
        return False  # `null`, or not an origin at all
    default_port = _DEFAULT_PORTS.get(scheme, b"")
    authority = authority.removesuffix(default_port) if default_port else authority
    for host in hosts:
        host = host.strip().lower()
        if host and (host == authority or host.removesuffix(default_port) == authority):
            return True
    return False


class BodyTooLarge(Exception):
    pass


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_limits: Mapping[tuple[str, str], int] | None = None,
        allowed_origins: Iterable[str] = (),
        hot_routes: bool = True,
    ) -> None:
        """`body_limits`: (method, path) -> the body limit of that route instead of
        `max_body_bytes`; `allowed_origins`: web origins whose writes are not cross-site (and
        that CORS serves); `hot_routes`: serve the hot routes here (off: every request goes
        through FastAPI)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})
        origins = list(allowed_origins)
        self.allowed_origins = frozenset(origin.encode("latin-1") for origin in origins)
        self.log = RequestLog()
        self._checked: ASGIApp = self._serve
        if origins:  # after the request log, before the checks (see above)
            self._checked = Cors(self._serve, allow_origins=origins)
        self._hot_routes = hot_routes
        self._hot: HotRoutes | None = None  # made at the first request, from the app's routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id_of(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        context = logs.request_id.set(rid)
        id_header = (REQUEST_ID_HEADER, rid.encode("ascii"))
        status = 0
        streaming = False

        async def send_answer(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                cached = False  # the stream says how it may be cached itself
                for name, value in headers:
                    if name == b"content-type":
                        streaming = value.startswith(_EVENT_STREAM)
                    elif name.lower() == b"cache-control":
                        cached = True
                if not cached:
                    headers.append(_NO_STORE)
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._checked(scope, receive, send_answer)
        except Exception:
            # The app's last-resort handler (outside this layer) answers 500 with this id;
            # the context keeps it for that handler's error line.
            self.log.done(scope, status or 500, started, rid, streaming)
            raise
        except BaseException:  # cancelled: the client went away
            self.log.done(scope, status or CLIENT_CLOSED, started, rid, streaming)
            raise
        self.log.done(scope, status, started, rid, streaming)
        logs.request_id.reset(context)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in WRITE_METHODS:
            checked = await self._checked_write(scope, receive, send)
            if checked is None:
                return
            body, receive = checked
            if body is not None and await self._hot_routes_of(scope).serve(
                scope, body, receive, send
            ):
                return
        elif scope["method"] == "GET" and await self._hot_routes_of(scope).serve_stream(
            scope, receive, send
        ):
            return
        await self.app(scope, receive, send)

    def _hot_routes_of(self, scope: Scope) -> HotRoutes:
        if self._hot is None:
            self._hot = HotRoutes.of(scope["app"]) if self._hot_routes else HotRoutes.none()
        return self._hot

    async def _checked_write(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[bytes | None, Receive] | None:
        """The body (None when the client went away while sending it) and a `receive` that
        replays it, of an acceptable write; None once a refusal is sent."""
        content_type: bytes | None = None
        declared_length = b""
        fetch_site: bytes | None = None
        origin: bytes | None = None
        hosts: list[bytes] = []
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared_length = value
            elif name == b"sec-fetch-site":
                fetch_site = value
            elif name == b"origin":
                origin = value
            elif name == b"host":
                hosts.append(value)
            elif name == b"x-forwarded-host":
                hosts.extend(value.split(b","))
        if origin is not None:
            cross_site = origin not in self.allowed_origins and not _own_origin(origin, hosts)
        else:
            cross_site = fetch_site is not None and fetch_site.lower() not in _OWN_SITE
        if cross_site:
            await self._refuse(
                scope, send, 403, "cross_site_request", "writes from other web sites are refused"
            )
            return None
        if content_type is not None and not is_json_media_type(content_type):
            await self._not_json(scope, send)
            return None
        limit = self.body_limits.get((scope["method"], scope["path"]), self.max_body_bytes)
        try:
            if declared_length.isdigit() and int(declared_length) > limit:
                raise BodyTooLarge
            body, replay = await self._buffered_body(receive, limit)
        except BodyTooLarge:
            await self._refuse(
                scope, send, 413, "body_too_large", f"request bodies are limited to {limit} bytes"
            )
            return None
        if content_type is None and body:
            await self._not_json(scope, send)
            return None
        return body, replay

    async def _buffered_body(self, receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
        """Read the whole body up front (bounded), then replay it to the app."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)

    async def _not_json(self, scope: Scope, send: Send) -> None:
        await self._refuse(
            scope,
            send,
            415,
            "unsupported_media_type",
            "request bodies must be JSON, sent with Content-Type: application/json",
        )

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str, text: str) -> None:
        await error_response(status, code, text)(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _replay(messages: list[Message], then: Receive) -> Receive:
    """Hand out the buffered messages, then wait on the real channel (for disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
