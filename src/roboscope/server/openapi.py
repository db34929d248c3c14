"""The OpenAPI document tells the truth: clean operation ids, and every error an operation
can answer with the body the server really sends.

The errors come from a few central mechanisms, not from the handlers: the middleware refuses
writes (403, 413, 415), request parsing refuses bad input (400, 422), the database's and
Redis's wrappers fail with 503, the database maps a missing row to 404 and a collision to
409, and `X-Lock-Token` writes can be 423. So the errors are documented centrally too, from
what each route depends on, instead of by hand on each route (where they would drift). A
route's own `responses=` entry for a status keeps its description, and its model when that
is not a plain `ErrorBody` (the health report's 503 is a `Health`).

`tests/api/test_openapi*.py`, and the API suite's client (which checks every answer against the
document, tests/conftest.py), hold the document to what the server answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute

from ..wire.common import ErrorBody
from ..wire.errors import (
    BadRequestError,
    BodyTooLargeError,
    ConflictError,
    CrossSiteError,
    ForbiddenError,
    LockedError,
    NotFoundError,
    RateLimitedError,
    StreamUnavailableError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedMediaTypeError,
    ValidationErrorBody,
)
from .auth import get_identity
from .deps import get_database, get_lock_token, get_state
from .limits import budget_of, rate_limit, stream_slot
from .methods import WRITE_METHODS

REF_PREFIX = "#/components/schemas/"

_ACTIONS = {
    # Where the function name alone would not give a clean, unique action.
    "create_markers": "create_bulk",
    "present": "list",
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def operation_id(route: APIRoute) -> str:
    """`<tag>_<action>`: `markers_update`, `work_sessions_list_markers`, `locks_app_acquire`.

    The action is the handler's name without the tag's nouns (`update_marker` under
    `markers` → `update`); `tests/api/test_openapi.py` checks that the ids are unique.
    """
    if not route.tags:
        return route.name
    prefix = "_".join(str(route.tags[0]).lower().split())
    nouns = set(prefix.split("_"))
    nouns |= {noun.removesuffix("s") for noun in nouns}
    action = _ACTIONS.get(route.name) or "_".join(
        word for word in route.name.split("_") if word not in nouns
    )
    return f"{prefix}_{action or 'get'}"


SUMMARIES: dict[str, str] = {
    "presence_heartbeat": "Heartbeat: mark a user present in a work session",
    "presence_list": "List who is present in a work session",
    "presence_leave": "Leave a work session",
    "locks_acquire": "Acquire a work session's lock",
    "locks_status": "Tell whether a work session is locked",
    "locks_extend": "Extend a lock",
    "locks_release": "Release a lock",
    "locks_force_release": "Force a lock's release (admin)",
    "locks_app_acquire": "Acquire a work session's lock (app route)",
    "locks_app_status": "Tell whether a work session is locked (app route)",
    "locks_app_extend": "Extend a lock (app route)",
    "locks_app_release": "Release a lock (app route)",
    "health_get": "Health of the server, its database and Redis",
    "health_live": "Liveness probe",
    "health_ready": "Readiness probe",
    "health_version": "Server version",
    "spaces_list": "List spaces",
    "spaces_create": "Create a space",
    "spaces_get": "Get a space",
    "spaces_update": "Update a space",
    "spaces_delete": "Delete a space with everything in it",
    "work_sessions_list": "List work sessions",
    "work_sessions_create": "Create a work session",
    "work_sessions_get": "Get a work session",
    "work_sessions_update": "Update a work session",
    "work_sessions_delete": "Delete a work session with its markers and anchors",
    "work_sessions_list_markers": "List a work session's markers",
    "markers_list": "List markers",
    "markers_create": "Create a marker",
    "markers_create_bulk": "Create markers in bulk, all or none",
    "markers_get": "Get a marker",
    "markers_update": "Update a marker",
    "markers_delete": "Delete a marker",
    "marker_details_get": "Get a marker's details",
    "marker_details_put": "Set a marker's details",
    "marker_details_delete": "Delete a marker's details",
    "marker_details_calculate": "Calculate a marker's details",
    "anchors_list": "List a work session's anchors",
    "anchors_upsert": "Create or update an anchor",
    "anchors_get": "Get an anchor",
    "anchors_update": "Update an anchor",
    "anchors_delete": "Delete an anchor",
    "laser_guides_get": "Get a space's laser guide",
    "laser_guides_put": "Set a space's laser guide",
    "laser_guides_delete": "Delete a space's laser guide",
    "reference_sets_list": "List a space's reference sets",
    "reference_sets_create": "Create a reference set",
    "reference_sets_get": "Get a reference set",
    "reference_sets_update": "Update a reference set",
    "reference_sets_delete": "Delete a reference set",
    "changes_list_events": "Audit trail: every recorded change",
    "changes_session": "Catch up on a work session's changes",
    "changes_session_events": "Follow a work session live (Server-Sent Events)",
    "changes_stream_token": "Get a short-lived token for a browser's live stream",
    "tokens_list": "List API tokens",
    "tokens_create": "Create an API token",
    "tokens_revoke": "Revoke an API token",
    "tokens_whoami": "Who the request's token is",
    "operations_prometheus_metrics": "Prometheus metrics",
}
"""The one-line summary of each operation, by operation id: what the docs page lists. Written
here together so that they read alike (FastAPI's default, the handler's name in title case,
reads "Present" or "App Acquire"); an operation missing here keeps that default, and
tests/api/test_openapi.py names it."""


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _has_parameters(dependant: Dependant) -> bool:
    return bool(
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or any(_has_parameters(dependency) for dependency in dependant.dependencies)
    )


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def route_errors(route: Any, method: str) -> dict[int, tuple[type[ErrorBody], str]]:
    """Every error status this operation can answer: its body model and why it happens."""
    calls = set(_calls(route.dependant))
    database = get_database in calls
    identified = get_identity in calls
    write = method in WRITE_METHODS
    errors: dict[int, tuple[type[ErrorBody], str]] = {}
    if route.body_field is not None:
        errors[400] = (BadRequestError, "The body is not valid JSON.")
    if identified:
        errors[401] = (
            UnauthorizedError,
            "ROBOSCOPE_AUTH=required and no live API token: missing, malformed, unknown, "
            "expired or revoked (`WWW-Authenticate` says so).",
        )
        errors[403] = (
            ForbiddenError,
            "The token's scope is too low (`insufficient_scope`), it may not act as that "
            "user (`forbidden`), or a browser sent this write from another web site "
            "(`cross_site_request`).",
        )
    elif write:
        errors[403] = (
            CrossSiteError,
            "A browser sent this write from another web site (`Origin`, `Sec-Fetch-Site`).",
        )
    if database and route.dependant.path_params:
        errors[404] = (NotFoundError, "No such resource.")
    if database and method in {"POST", "PUT", "PATCH"}:
        errors[409] = (
            ConflictError,
            "`version_conflict`: `version` is stale (`current_version` is the stored one); "
            "`conflict`: the write collides with stored data. Nothing was changed.",
        )
    if write:
        errors[413] = (BodyTooLargeError, "The body is larger than the server accepts.")
        errors[415] = (
            UnsupportedMediaTypeError,
            "The body is not JSON: send `Content-Type: application/json`.",
        )
    if _has_parameters(route.dependant):
        errors[422] = (
            ValidationErrorBody,
            "A parameter or field is missing or malformed (`validation_error`), the body "
            "names a parent that does not exist (`invalid_reference`), or a value cannot be "
            "stored (`invalid_value`).",
        )
    if rate_limit in calls and budget_of(method, route.path_format) is not None:
        errors[429] = (
            RateLimitedError,
            "`rate_limited`: the caller spent its budget of these requests "
            f"(`{budget_of(method, route.path_format)}`); retry after `Retry-After` seconds.",
        )
    if stream_slot in calls:
        errors[429] = (
            RateLimitedError,
            "`too_many_streams`: the caller holds ROBOSCOPE_LIVE_MAX_STREAMS_PER_CALLER streams "
            "on this server process; close one, or retry after `Retry-After` seconds.",
        )
    if get_lock_token in calls:
        errors[423] = (LockedError, "`X-Lock-Token` does not hold the work session's lock.")
    if database or get_state in calls or identified:
        errors[503] = (
            UnavailableError,
            "The database or Redis is unreachable; retry after `Retry-After` seconds.",
        )
    if stream_slot in calls:
        errors[503] = (
            StreamUnavailableError,
            "`stream_capacity`: this server process serves ROBOSCOPE_LIVE_MAX_STREAMS streams "
            "(retry: another process may take it); `service_unavailable`: the database or "
            "Redis is down. Retry after `Retry-After` seconds.",
        )
    return errors


def _error_schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        ErrorBody,
        BadRequestError,
        CrossSiteError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        BodyTooLargeError,
        UnsupportedMediaTypeError,
        ValidationErrorBody,
        LockedError,
        RateLimitedError,
        StreamUnavailableError,
        UnavailableError,
    ]
    _, schemas = models_json_schema(
        [(model, "serialization") for model in models], ref_template=REF_PREFIX + "{model}"
    )
    defs: dict[str, Any] = schemas["$defs"]
    return defs


_RETRIED = ("429", "503")
"""Answers that always carry `Retry-After` (the health probes' 503s too)."""


def _declared_elsewhere(response: dict[str, Any]) -> bool:
    """The route documents this status with a model of its own (not a plain error body)."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref")
    return ref is not None and ref not in {
        REF_PREFIX + "ErrorBody",
        REF_PREFIX + "HTTPValidationError",
    }


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    """Every `APIRoute` as mounted (with its prefix), included routers' ones too; each acts
    like an `APIRoute` (FastAPI's `RouteContext`)."""
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": 'The challenge: `Bearer realm="roboscope"`, with '
        '`error="invalid_token"` when a token was sent (RFC 6750).',
        "required": True,
        "schema": {"type": "string"},
    }
}
BEARER = "bearer"
_SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token (`roboscope tokens create`), required when the server runs "
    "with ROBOSCOPE_AUTH=required; see docs/auth.md.",
}


def describe_errors(
    document: dict[str, Any], routes: Sequence[BaseRoute], *, auth_required: bool = False
) -> None:
    """Add every error response to `document` (FastAPI's, modified in place), and the bearer
    security of the operations behind authentication (optional while auth is off)."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(_error_schemas())
    components.setdefault("securitySchemes", {})[BEARER] = _SECURITY_SCHEME
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        identified = get_identity in set(_calls(route.dependant))
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            operation["summary"] = SUMMARIES.get(operation["operationId"], operation["summary"])
            if identified:
                operation["security"] = [{BEARER: []}] if auth_required else [{}, {BEARER: []}]
            else:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for status, (model, description) in route_errors(route, method).items():
                response = responses.get(str(status), {})
                if _declared_elsewhere(response):
                    continue
                own = status in route.responses or str(status) in route.responses
                schema = {"$ref": REF_PREFIX + model.__name__}
                entry: dict[str, Any] = {
                    "description": response["description"] if own else description,
                    "content": {"application/json": {"schema": schema}},
                }
                if status == 401:
                    entry["headers"] = _WWW_AUTHENTICATE
                responses[str(status)] = entry
            for retried in _RETRIED:
                if retried in responses:
                    responses[retried]["headers"] = _RETRY_AFTER
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document["components"]["schemas"]
    for name in _FASTAPI_VALIDATION_SCHEMAS:  # replaced by ValidationErrorBody everywhere
        schemas.pop(name, None)


def install_openapi(app: FastAPI, *, auth_required: bool = False) -> None:
    """Build the document once, FastAPI's way, then document the errors in it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = build()  # cached by FastAPI after the first call
        if first:
            describe_errors(document, app.routes, auth_required=auth_required)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
