"""The hot routes: presence heartbeats, lock acquires and lock releases, answered at the edge.

Every device beats every 10 s and every edit takes and releases a lock, so these few
requests are most of the API's traffic. Through FastAPI each of them paid more for the
framework (its middleware stack, routing, dependency solving, reading the body through
Starlette's request stream) than for its own work (docs/performance.md). So the edge
(server/middleware.py) answers them itself, taking the same steps as the route, in the same
order, through the same functions:

1. the work session id of the path and the JSON body, validated by the route's own types;
2. the caller, as `auth.get_identity` finds it (`bearer_identity`, `needed_scope`, `require`,
   `identified`);
3. the caller's budget drawn, as the `limits.rate_limit` dependency draws it; on a single
   Redis by the handler's own Redis call (`limits.drawing`: one round trip, not two; a
   request refused by its budget changes nothing, and one that fails before its call still
   draws, so it is answered 429 first when its budget is spent, as through FastAPI);
4. the route's own handler, called with what FastAPI would have passed it (and the draw),
   and its answer sent; an error it raises is answered by the app's own exception handler
   for that error (a 503 gives the drawn budget back, as always).

A request that steps 1 and 2 do not accept (an id that is not a UUID; a body that is not
plain `application/json`, not a JSON object, or not valid; a missing or bad token, too small
a scope) is handed to the app untouched, before anything happened, and FastAPI answers it
exactly as it always did (400, 401, 403, 422). So is every request under a root path. A route
this module cannot serve exactly (a parameter or a router dependency it does not know) is
left to FastAPI altogether; tests/api/test_hot_routes.py checks that the five routes stay
hot, and that they answer what FastAPI answers, byte for byte.

The live stream's opening (`GET /work-sessions/{id}/events`) is served here the same way,
by `serve_stream` (server/hot_stream.py says its steps): an open stream is held by the edge's
coroutine, not by FastAPI's request path, for its whole life; its errors are answered by the
same handlers as step 4's.

The FastAPI routes stay the API's definition: OpenAPI documents them, and they serve every
request not taken here. With ROBOSCOPE_OPENTELEMETRY on, FastAPI traces requests, so none is
taken here (server/app.py).
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from ..rate_budgets import Budget
from ..services.access import AccessScope, Identity, anonymous, require
from ..wire.limits import MAX_JSON_BYTES
from .auth import (
    QUERY_TOKEN_ATTRIBUTE,
    Caller,
    bearer_identity,
    get_identity,
    identified,
    needed_scope,
)
from .deps import State
from .hot_stream import HotStream
from .limits import FoldedDraw, budget_of, draw, drawing, rate_limit
from .params import JSON_LIMIT
from .routes import locks, presence
from .state import AppState

HOT_ENDPOINTS = frozenset(
    {
        presence.heartbeat,
        locks.acquire,
        locks.release,
        locks.app_acquire,
        locks.app_release,
    }
)
"""The handlers whose requests the edge answers itself."""

_ROUTER_DEPENDENCIES = frozenset({get_identity, rate_limit, JSON_LIMIT.dependency})
"""What the routers of those handlers may depend on: steps 2 and 3, and the cap on JSON
objects in the body (set for step 1)."""
_PARAMETERS = frozenset({"caller", "state", "session_id", "body", "draw"})
"""What those handlers take (by name; checked against their types): the caller, the
process's state, the path's work session id, the body and the draw on the caller's budget
(`limits.FoldedDraw`)."""
_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)
_JSON = b"application/json"

Handler = Callable[..., Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


class _NotHere(Exception):
    """This request is the app's to answer (nothing has happened yet)."""


@dataclass(frozen=True, slots=True)
class HotRoute:
    route: Any
    """The route FastAPI matches (left in the scope, as FastAPI leaves it there)."""
    endpoint: Handler
    pattern: re.Pattern[str]
    body: TypeAdapter[Any]
    body_optional: bool
    takes_caller: bool
    takes_draw: bool
    needed: AccessScope
    budget: Budget | None
    caps_json: bool

    @classmethod
    def of(cls, context: RouteContext, method: str) -> HotRoute | None:
        """The hot route of a FastAPI route, or None when it cannot be served exactly here."""
        endpoint = context.endpoint
        if endpoint is None:
            return None
        depends_on = {depends.dependency for depends in context.dependencies}
        parameters = inspect.signature(endpoint).parameters
        if (
            not depends_on <= _ROUTER_DEPENDENCIES
            or get_identity not in depends_on
            or not set(parameters) <= _PARAMETERS
            or not {"state", "session_id", "body"} <= set(parameters)
            or getattr(endpoint, QUERY_TOKEN_ATTRIBUTE, False)
            or context.path_format is None
        ):
            return None
        hints = typing.get_type_hints(endpoint, include_extras=True)
        if (
            hints["session_id"] is not UUID
            or hints["state"] != State
            or ("caller" in parameters and hints["caller"] != Caller)
            or ("draw" in parameters and hints["draw"] != FoldedDraw)
        ):
            return None
        pattern, _, _ = compile_path(context.path_format)
        return cls(
            route=context.original_route,
            endpoint=endpoint,
            pattern=pattern,
            body=TypeAdapter(hints["body"]),
            body_optional=parameters["body"].default is None,
            takes_caller="caller" in parameters,
            takes_draw="draw" in parameters,
            needed=needed_scope(endpoint, method),
            budget=budget_of(method, context.path_format) if rate_limit in depends_on else None,
            caps_json=JSON_LIMIT.dependency in depends_on,
        )

    def parse(self, body: bytes, content_type: bytes | None) -> Any:
        """The body as the handler gets it, or `_NotHere` (the app answers what is wrong)."""
        if not body:
            if self.body_optional:
                return None
            raise _NotHere
        if content_type is None or content_type.split(b";", 1)[0].strip().lower() != _JSON:
            raise _NotHere  # FastAPI decides what other JSON media types get
        value = json.loads(body)  # what FastAPI does (`Request.json`)
        if not isinstance(value, dict):
            raise _NotHere
        return self.body.validate_python(value)


@dataclass(frozen=True, slots=True)
class HotRoutes:
    by_method: Mapping[str, tuple[HotRoute, ...]]
    error_handlers: Mapping[Any, ErrorHandler]
    stream: HotStream | None = None
    """The live stream's opening (server/hot_stream.py)."""

    @classmethod
    def of(cls, app: FastAPI) -> HotRoutes:
        by_method: dict[str, list[HotRoute]] = {}
        stream: HotStream | None = None
        for context in iter_route_contexts(app.routes):
            if context.methods == {"GET"}:
                stream = stream or HotStream.of(context)
            if context.endpoint not in HOT_ENDPOINTS:
                continue
            for method in context.methods or ():
                hot = HotRoute.of(context, method)
                if hot is not None:
                    by_method.setdefault(method, []).append(hot)
        # What FastAPI's exception middleware answers with; `Exception` (a 500) is answered
        # outside the edge, by Starlette's last resort.
        handlers = {
            key: cast(ErrorHandler, handler)
            for key, handler in app.exception_handlers.items()
            if key not in (500, Exception)
        }
        return cls({m: tuple(routes) for m, routes in by_method.items()}, handlers, stream)

    @classmethod
    def none(cls) -> HotRoutes:
        return cls({}, {})

    def __len__(self) -> int:
        return sum(len(routes) for routes in self.by_method.values())

    def _match(self, scope: Scope) -> tuple[HotRoute, str] | None:
        for hot in self.by_method.get(scope["method"], ()):
            found = hot.pattern.match(scope["path"])
            if found is not None:
                return hot, found["session_id"]
        return None

    async def serve(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        """Answer the request if it is a hot route's (True); False: the app's to answer."""
        if scope.get("root_path"):
            return False  # Starlette routes on the path beneath it: leave that to it
        matched = self._match(scope)
        if matched is None:
            return False
        hot, raw_id = matched
        state: AppState = scope["app"].state.roboscope
        authorization: bytes | None = None
        content_type: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value
            elif name == b"content-type" and content_type is None:
                content_type = value
        capped = MAX_JSON_BYTES.set(state.settings.max_meta_bytes) if hot.caps_json else None
        try:
            session_id = _UUID.validate_python(raw_id)
            value = hot.parse(body, content_type)
            caller = await _identify(state, scope, authorization, hot.needed)
        except Exception:
            return False  # not one the edge answers: the app takes it, as if never here
        finally:
            if capped is not None:
                MAX_JSON_BYTES.reset(capped)
        identified(scope, caller)
        scope["route"], scope["endpoint"] = hot.route, hot.endpoint
        scope["path_params"] = {"session_id": raw_id}
        arguments: dict[str, Any] = {"state": state, "session_id": session_id, "body": value}
        if hot.takes_caller:
            arguments["caller"] = caller
        endpoint = hot.endpoint

        async def respond() -> Response:
            if hot.takes_draw:
                return await drawing(
                    state,
                    scope,
                    caller,
                    hot.budget,
                    lambda drawn: endpoint(**arguments, draw=drawn),
                )
            await draw(state, scope, caller, hot.budget)
            return await endpoint(**arguments)

        await self._answer(respond, scope, receive, send)
        return True

    async def serve_stream(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Open a live stream if the request is a plain opening (True: the stream has
        ended); False: the app's to answer (server/hot_stream.py)."""
        stream = self.stream
        if stream is None or scope.get("root_path"):
            return False
        raw_id = stream.match(scope)
        if raw_id is None:
            return False
        state: AppState = scope["app"].state.roboscope
        try:
            arguments = await stream.arguments(state, scope, raw_id)
        except Exception:
            return False  # not one the edge answers: the app takes it, as if never here
        identified(scope, arguments["caller"])
        scope["route"], scope["endpoint"] = stream.route, stream.endpoint
        scope["path_params"] = {"session_id": raw_id}
        endpoint = stream.endpoint
        await self._answer(lambda: endpoint(**arguments), scope, receive, send)
        return True

    async def _answer(
        self, call: Callable[[], Awaitable[Response]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Send the handler's response, or what the app's handler of its error answers."""
        try:
            response = await call()
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None:
                raise
            answered = handler(Request(scope, receive), error)
            response = await answered if inspect.isawaitable(answered) else answered
        await response(scope, receive, send)

    def _handler_for(self, error: Exception) -> ErrorHandler | None:
        """The handler FastAPI's exception middleware would pick (Starlette's rule)."""
        if isinstance(error, HTTPException) and error.status_code in self.error_handlers:
            return self.error_handlers[error.status_code]
        for cls in type(error).__mro__:
            if cls in self.error_handlers:
                return self.error_handlers[cls]
        return None


async def _identify(
    state: AppState, scope: Scope, authorization: bytes | None, needed: AccessScope
) -> Identity:
    """`auth.get_identity` for a request whose handler takes no query token."""
    client = scope["client"][0] if scope.get("client") else "unknown"
    if state.settings.auth == "off":
        return anonymous(client)
    header = None if authorization is None else authorization.decode("latin-1")
    identity = await bearer_identity(state, header, client)
    require(identity, needed)
    return identity
