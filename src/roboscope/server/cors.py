"""CORS for the web origins on ROBOSCOPE_CORS_ORIGINS (off when the list is empty).

Starlette's middleware, configured for what our clients send and read: `Authorization` (a
bearer token, so no cookies and no credentialed CORS), the JSON content type, `X-Lock-Token`,
`Idempotency-Key`, `Last-Event-ID` and `X-Request-ID`; the answers expose the change cursor,
paging `Link`, `Retry-After` and the request id. A refused preflight is a short JSON 403, like
every other refusal. Writes from a listed origin also pass the cross-site check of
server/middleware.py; every other site's are still refused there.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from .errors import error_response

ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Lock-Token",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-Request-ID",
)
EXPOSE_HEADERS = (
    "X-Roboscope-Cursor",
    "Link",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
)
PREFLIGHT_CACHE_SECONDS = 600


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, allow_origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=allow_origins,
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            allow_credentials=False,
            # A console on a public site may call a server on the site network (Chrome's
            # Private Network Access asks first): listed origins are trusted to.
            allow_private_network=True,
            expose_headers=EXPOSE_HEADERS,
            max_age=PREFLIGHT_CACHE_SECONDS,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code == 200:
            return answer
        refused = bytes(answer.body).decode().removeprefix("Disallowed CORS ")
        return error_response(
            403,
            "cors_refused",
            f"cross-origin request not allowed ({refused})",
            headers={
                name: value
                for name, value in answer.headers.items()
                if name.lower().startswith("access-control-") or name.lower() == "vary"
            },
        )
