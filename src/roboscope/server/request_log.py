"""Request ids, the request log and the HTTP metrics: what the edge (server/middleware.py)
records of every request, refusals and live streams included.

- `X-Request-ID`: the client's, when it is printable ASCII of at most 128 characters (a
  proxy's or the app's own id, so its logs and ours can be joined), else a new one; it is
  sent back on every answer, refusals of the edge and live streams included.
- The log line names the route template (`/api/v1/markers/{marker_id}`), never the query
  string, and no header but `X-Request-ID`: no `Authorization`, no `access_token`, no
  `X-Lock-Token`. The caller shows up by its token's name only.
- The metrics count every answer by method, route template and status; requests no route
  matched share one `route` label, so scanning random paths cannot grow the series.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.types import Scope

from .. import logs, metrics

log = logging.getLogger(logs.ACCESS_LOGGER)

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[\x21-\x7e]{1,128}")
CLIENT_CLOSED = 499  # the status logged when the client went away before any answer
# Label values stay few whatever clients send: other methods share one.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's `X-Request-ID` when it is sane, else a new random one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _SANE_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()


class RequestLog:
    """The log line and the metrics of each request (`done`), for one app."""

    def __init__(self) -> None:
        # (method, route, status) -> counter child; (method, route) -> histogram child:
        # prometheus_client's own label look-up takes a lock and builds a tuple each time.
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._templates: dict[int, str] | None = None  # id(route) -> template

    def _template(self, scope: Scope) -> str:
        """The matched route's path template as mounted (prefix included): FastAPI leaves
        the route as declared in its router in the scope, without the prefix."""
        route = scope.get("route")
        if route is None:
            return metrics.UNMATCHED_ROUTE
        if self._templates is None:
            self._templates = {
                id(context.original_route): context.path_format
                for context in iter_route_contexts(scope["app"].routes)
                if context.path_format is not None
            }
        template = self._templates.get(id(route))
        if template is None:
            template = getattr(route, "path_format", None) or metrics.UNMATCHED_ROUTE
        return template

    def done(self, scope: Scope, status: int, started: float, rid: str, streaming: bool) -> None:
        """Count the answer, time it (not a stream's: it lasts as long as the client stays),
        and log its line."""
        elapsed = time.perf_counter() - started
        method: str = scope["method"]
        label = method if method in _METHODS else "other"
        route = self._template(scope)
        key = (label, route, status)
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts[key] = metrics.HTTP_REQUESTS.labels(label, route, str(status))
        counter.inc()
        if status == 429:  # only limits answer 429, wherever they are enforced
            metrics.RATE_LIMITED.inc()
        if not streaming:
            histogram = self._durations.get((label, route))
            if histogram is None:
                histogram = self._durations[(label, route)] = metrics.HTTP_DURATION.labels(
                    label, route
                )
            histogram.observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            state = scope.get("state") or {}
            identity = state.get("identity")
            client = scope.get("client")
            fields = {
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "request_id": rid,
                "client": client[0] if client else None,
            }
            token_name = getattr(identity, "token_name", None)
            if token_name is not None:
                fields["token_name"] = token_name
            # Made directly: `log.info` would walk the stack for a caller no one reads.
            record = log.makeRecord(
                log.name,
                logging.INFO,
                __file__,
                0,
                "%s %s %d",
                (method, scope["path"], status),
                None,
                extra={logs.FIELDS: fields, "request_id": rid},
            )
            log.handle(record)
