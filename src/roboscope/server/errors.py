"""Every failure becomes a short JSON body: `{"error": code, "message": text, ...}`.

Some iOS alerts show error bodies raw, so they stay small: no stack traces, no echo of the
client's input, at most a few validation problems.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from ..errors import RoboscopeError, ServiceUnavailable

log = logging.getLogger("roboscope")

MAX_REPORTED_PROBLEMS = 5

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
    415: "unsupported_media_type",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message, **extra}, status_code=status, headers=headers
    )


async def _domain_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RoboscopeError)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    reported = [
        {"field": _location(tuple(p.get("loc", ()))), "message": str(p.get("msg", "invalid"))}
        for p in problems[:MAX_REPORTED_PROBLEMS]
    ]
    first = reported[0] if reported else {"field": "body", "message": "invalid"}
    return error_response(
        422, "validation_error", f"{first['field']}: {first['message']}", problems=reported
    )


def allowed_methods(request: Request) -> str:
    """Every method the resource at this path serves. Starlette's 405 names only the methods
    of the first route whose path matched, while one path often has a route per method. The
    most literal routes are the resource: `/markers/bulk` is not a `/markers/{marker_id}`."""
    path = request.scope["path"]
    by_parameters: dict[int, set[str]] = {}
    for route in iter_route_contexts(request.app.routes):
        regex, served = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and served and regex.match(path):
            parameters = str(getattr(route, "path_format", "")).count("{")
            by_parameters.setdefault(parameters, set()).update(served)
    return ", ".join(sorted(by_parameters[min(by_parameters)])) if by_parameters else ""


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    headers = dict(error.headers) if error.headers else None
    if error.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return error_response(error.status_code, code, str(error.detail), headers=headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    """The last resort (Starlette runs it outside every middleware): the request id is
    logged with the error and sent back, so a client's report finds this line."""
    request_id = getattr(request.state, "request_id", None)
    log.exception(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=error,
        extra={"request_id": request_id},
    )
    headers = None if request_id is None else {"X-Request-ID": request_id}
    return error_response(500, "internal_error", "unexpected server error", headers=headers)


def install_error_handlers(
    app: FastAPI, *, on_unavailable: Callable[[Request], Awaitable[None]]
) -> None:
    """`on_unavailable` runs before every 503 `service_unavailable` (the database or Redis
    cannot serve this now) is answered: the rate limiter gives the request's budget back."""

    async def unavailable(request: Request, error: Exception) -> Response:
        await on_unavailable(request)
        return await _domain_error(request, error)

    app.add_exception_handler(RoboscopeError, _domain_error)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
