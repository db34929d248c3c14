"""Authentication: the one dependency at the HTTP edge that finds who is calling.

`get_identity` is a dependency of every API router (mounted in `app.py`); handlers that need
the identity take a `Caller`, which FastAPI resolves from the same per-request cache. The hot
routes and the live stream's opening (server/hot_routes.py, server/hot_stream.py) take the
same steps without FastAPI: `bearer_identity` (or `query_token_identity`), `needed_scope`,
`require`, `identified`. With
`ROBOSCOPE_AUTH=off` every caller is anonymous with every right. With `required`:

- `Authorization: Bearer <token>` names an API token, looked up by its hash in this
  process's token cache (services/token_cache.py; a revoked token still stops at once, on
  every process: services/tokens.py);
- missing, malformed, unknown, expired or revoked: 401 with `WWW-Authenticate`;
- the scope the request needs: read for GET and HEAD, write for every other method (a route
  can lower it with `needs_scope`); admin operations are refused by their services (403).

The live stream also accepts `?access_token=` (a short-lived signed query token, see
services/stream_tokens.py), for browsers' `EventSource`, which cannot send headers.

The identity is also left in `request.state.identity` for what runs outside the handler
(the request log, per-caller limits); the change log learns its actor from the identity
each write handler passes to its service (`Caller`). Secrets are never logged: nothing here
logs, and error messages never repeat them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query, Request
from starlette.types import Scope

from ..errors import Unauthenticated
from ..services import tokens
from ..services.access import AccessScope, Identity, anonymous, require
from ..services.clock import utcnow
from .state import AppState

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
SCOPE_ATTRIBUTE = "__roboscope_scope__"
QUERY_TOKEN_ATTRIBUTE = "__roboscope_query_token__"

F = TypeVar("F", bound=Callable[..., Any])


def needs_scope(scope: AccessScope) -> Callable[[F], F]:
    """Mark a handler whose method would ask for more than it needs (a POST that only
    reads, such as making a stream's query token)."""

    def mark(handler: F) -> F:
        setattr(handler, SCOPE_ATTRIBUTE, scope)
        return handler

    return mark


def accepts_query_token(handler: F) -> F:
    """Mark the handler of the live stream: `?access_token=` may stand in for the header."""
    setattr(handler, QUERY_TOKEN_ATTRIBUTE, True)
    return handler


async def _documents_access_token(
    access_token: Annotated[
        str | None,
        Query(
            description="A query token from `POST /work-sessions/{session_id}/stream-token`, "
            "for clients that cannot send `Authorization` (browsers' `EventSource`); "
            "ROBOSCOPE_AUTH=required only.",
        ),
    ] = None,
) -> None:
    """Only documents the parameter: `get_identity` reads it."""


STREAM_ACCESS_TOKEN = Depends(_documents_access_token)


def _endpoint(request: Request) -> Any:
    route = request.scope.get("route")
    return getattr(route, "endpoint", None)


def needed_scope(endpoint: Any, method: str) -> AccessScope:
    """The scope a request of `method` to the handler `endpoint` needs."""
    marked: AccessScope | None = getattr(endpoint, SCOPE_ATTRIBUTE, None)
    if marked is not None:
        return marked
    return "read" if method in _READS else "write"


async def _authenticate(request: Request, state: AppState, client: str) -> Identity:
    header = request.headers.get("authorization")
    if header is None:
        query_token = request.query_params.get("access_token")
        if query_token is not None and getattr(_endpoint(request), QUERY_TOKEN_ATTRIBUTE, False):
            return await _from_query_token(request, state, query_token, client)
    return await bearer_identity(state, header, client)


async def bearer_identity(state: AppState, header: str | None, client: str) -> Identity:
    """The identity of an `Authorization` header (`Bearer <token>`), or `Unauthenticated`."""
    if header is None:
        raise Unauthenticated(
            "this server requires an API token: send `Authorization: Bearer <token>`"
        )
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthenticated(
            "the Authorization header must be `Bearer <token>`", invalid_token=True
        )
    return await tokens.authenticate(state.database, state.token_cache, secret, client)


async def _from_query_token(
    request: Request, state: AppState, secret: str, client: str
) -> Identity:
    return await query_token_identity(
        state, str(request.path_params.get("session_id")), secret, client
    )


async def query_token_identity(
    state: AppState, raw_session_id: str, secret: str, client: str
) -> Identity:
    """The identity of a stream's `?access_token=` for the work session of the path (the
    live stream at the edge takes this step itself: server/hot_stream.py)."""
    try:
        session_id = UUID(raw_session_id)
    except ValueError:
        session_id = None
    found = None if session_id is None else state.stream_signer.verify(session_id, secret, utcnow())
    if found is None:
        raise Unauthenticated(
            "the access token is not valid for this stream (it lasts a minute; make a new "
            "one with POST /work-sessions/{id}/stream-token)",
            invalid_token=True,
        )
    return await tokens.identity_of_token(state.database, state.token_cache, found, client)


async def get_identity(request: Request) -> Identity:
    state: AppState = request.app.state.roboscope
    client = request.client.host if request.client is not None else "unknown"
    if state.settings.auth == "off":
        identity = anonymous(client)
    else:
        identity = await _authenticate(request, state, client)
        require(identity, needed_scope(_endpoint(request), request.method))
    identified(request.scope, identity)
    return identity


def identified(scope: Scope, identity: Identity) -> None:
    """Leave the request's identity where what runs outside the handler finds it: the
    request log and the limits (`request.state.identity`)."""
    scope.setdefault("state", {})["identity"] = identity


Caller = Annotated[Identity, Depends(get_identity)]
IDENTIFIED = Depends(get_identity)
"""What `app.py` mounts on every API router (health and docs stay open)."""


_QUERY_TOKEN = re.compile(r"(access_token=)[^&\s\"]*")


class RedactQueryTokens(logging.Filter):
    """Masks `access_token=…` in the access log's request lines (uvicorn logs the whole
    path with its query): a stream's query token is a credential for its minute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, str) and "access_token=" in arg for arg in record.args
        ):
            record.args = tuple(
                _QUERY_TOKEN.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def install_log_redaction() -> None:
    """Once per process (each worker builds its app)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryTokens) for f in access.filters):
        access.addFilter(RedactQueryTokens())
