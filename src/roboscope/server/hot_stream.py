"""The live stream's opening (`GET /work-sessions/{id}/events`) answered at the edge.

Through FastAPI, each open stream kept the framework's request path suspended for its whole
life (its routing and dependency coroutines, exit stacks, the `Request`), and each opening
paid for FastAPI's routing and dependency solving (docs/performance.md, "Live streams"). So
the edge (server/hot_routes.py, `HotRoutes.serve_stream`) opens a plain stream itself, taking
the route's steps in FastAPI's order, through the same functions:

1. the caller, as `auth.get_identity` finds it: the `Authorization` header, else the
   stream's `?access_token=` (`auth.query_token_identity`), and `require` of the read scope;
2. the parameters, validated by the route's own types: the work session id (a UUID),
   `since` and `ping` (plain numbers here), the first `Last-Event-ID` header as text;
3. the route's own handler (`routes.changes.session_events`), called with what FastAPI would
   pass it (the claim of a stream place is `limits.slot_claim`, what `stream_slot` gives),
   so the catch-up, the caps (429/503), 404/410, `stream.closing` and the end on deletion
   are the handler's and the `EventStream`'s, as always.

A request that steps 1 and 2 do not accept (no or a bad token, a scope too small, an id that
is not a UUID, a repeated or unusual `since`, `ping` or `access_token`) is handed to the app
untouched, before anything happened, and FastAPI answers it as it always did. If the route
changes so that this module cannot serve it exactly (a parameter or a dependency it does not
know), FastAPI serves it altogether; tests/api/test_hot_stream.py checks that the route stays
served here and that both answer an opening alike.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import params
from fastapi.routing import RouteContext
from pydantic import TypeAdapter
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Scope

from ..services.access import Identity, anonymous, require
from .auth import (
    QUERY_TOKEN_ATTRIBUTE,
    STREAM_ACCESS_TOKEN,
    Caller,
    bearer_identity,
    get_identity,
    needed_scope,
    query_token_identity,
)
from .deps import State
from .limits import LiveStreamSlot, slot_claim
from .routes import changes
from .state import AppState

STREAM_ENDPOINT = changes.session_events
"""The handler whose openings the edge serves itself."""

_DEPENDENCIES = frozenset({get_identity, STREAM_ACCESS_TOKEN.dependency})
_PARAMETERS = ("state", "caller", "claim_slot", "session_id", "since", "ping", "last_event_id")
_QUERY = frozenset({"since", "ping", "access_token"})
_PLAIN = {"since": re.compile(r"[0-9]{1,18}"), "ping": re.compile(r"[0-9]{1,2}(\.[0-9]{1,6})?")}
"""What the edge reads of `since` and `ping` itself: plain numbers (anything else, FastAPI)."""
_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class HotStream:
    route: Any
    """The route FastAPI matches (left in the scope, as FastAPI leaves it there)."""
    endpoint: Handler
    pattern: re.Pattern[str]
    query: dict[str, TypeAdapter[Any]]
    """`since` and `ping`, by the route's own types (bounds included)."""

    @classmethod
    def of(cls, context: RouteContext) -> HotStream | None:
        """The stream route of a FastAPI route, or None when it cannot be served exactly."""
        endpoint = context.endpoint
        if endpoint is not STREAM_ENDPOINT or context.path_format is None:
            return None
        parameters = inspect.signature(endpoint).parameters
        hints = typing.get_type_hints(endpoint, include_extras=True)
        if (
            {depends.dependency for depends in context.dependencies} != _DEPENDENCIES
            or tuple(parameters) != _PARAMETERS
            or not getattr(endpoint, QUERY_TOKEN_ATTRIBUTE, False)
            or hints["state"] != State
            or hints["caller"] != Caller
            or hints["claim_slot"] != LiveStreamSlot
            or hints["session_id"] is not UUID
            or not _is_text_header(hints["last_event_id"])
        ):
            return None
        pattern, _, _ = compile_path(context.path_format)
        query = {name: TypeAdapter(hints[name]) for name in ("since", "ping")}
        return cls(context.original_route, endpoint, pattern, query)

    def match(self, scope: Scope) -> str | None:
        """The raw work session id of a request for this route, or None."""
        found = self.pattern.match(scope["path"])
        return None if found is None else found["session_id"]

    async def arguments(self, state: AppState, scope: Scope, raw_id: str) -> dict[str, Any]:
        """What FastAPI would pass the handler, the caller identified; raises when this
        request is the app's to answer (nothing has happened yet)."""
        authorization: bytes | None = None
        last_event_id: bytes | None = None
        for name, value in scope["headers"]:  # the first of each, as Starlette reads them
            if name == b"authorization" and authorization is None:
                authorization = value
            elif name == b"last-event-id" and last_event_id is None:
                last_event_id = value
        query = self._query(scope)
        arguments: dict[str, Any] = {"state": state, "session_id": _UUID.validate_python(raw_id)}
        for name in ("since", "ping"):
            text = query.get(name)
            if text is not None and _PLAIN[name].fullmatch(text) is None:
                raise ValueError(f"{name} is not plain")
            arguments[name] = self.query[name].validate_python(text)
        arguments["last_event_id"] = (
            None if last_event_id is None else last_event_id.decode("latin-1")
        )
        # (Last, as the cheap checks are done: FastAPI identifies first, but every refusal
        # is FastAPI's to answer, so the order changes no answer.)
        caller = await _identify(state, scope, authorization, query.get("access_token"), raw_id)
        arguments["caller"] = caller
        arguments["claim_slot"] = slot_claim(state, caller)
        return arguments

    @staticmethod
    def _query(scope: Scope) -> dict[str, str]:
        """The parameters the route reads, each given at most once (else raises)."""
        query: dict[str, str] = {}
        raw = scope.get("query_string", b"")
        if raw:
            for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
                if name in _QUERY:
                    if name in query:
                        raise ValueError(f"{name} given twice")
                    query[name] = value
        return query


def _is_text_header(hint: Any) -> bool:
    """Whether `hint` is `Annotated[str | None, Header(...)]` (the header read as text)."""
    metadata: tuple[Any, ...] = getattr(hint, "__metadata__", ())
    return (
        getattr(hint, "__origin__", None) == (str | None)
        and len(metadata) == 1
        and isinstance(metadata[0], params.Header)
    )


async def _identify(
    state: AppState,
    scope: Scope,
    authorization: bytes | None,
    query_token: str | None,
    raw_id: str,
) -> Identity:
    """`auth.get_identity` for the stream's handler (which takes the query token)."""
    client = scope["client"][0] if scope.get("client") else "unknown"
    if state.settings.auth == "off":
        return anonymous(client)
    if authorization is None and query_token is not None:
        identity = await query_token_identity(state, raw_id, query_token, client)
    else:
        header = None if authorization is None else authorization.decode("latin-1")
        identity = await bearer_identity(state, header, client)
    require(identity, needed_scope(STREAM_ENDPOINT, "GET"))
    return identity
