"""Checks of the docs/contract.md response rules, and of every answer against the OpenAPI
document."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import httpx
import requests
import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
POINT_KEYS = {"p1", "p2", "p3", "p4", "center", "world_position"}
OBJECT_KEYS = {"meta", "custom_props"}
URL_SUFFIX = "_url"


def assert_contract(value: Any, path: str = "$") -> None:
    """Timestamps in `…Z` form without fractions, 3-number points, `{}` objects, null URLs."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            assert_contract(item, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        where = f"{path}.{key}"
        if key.endswith("_at") and item is not None:
            assert isinstance(item, str) and TIMESTAMP.match(item), f"{where}: {item!r}"
        if key in POINT_KEYS and item is not None:
            assert isinstance(item, list) and len(item) == 3, f"{where}: {item!r}"
            assert all(isinstance(n, int | float) and not isinstance(n, bool) for n in item)
        if key in OBJECT_KEYS:
            assert isinstance(item, dict), f"{where} must be an object, got {item!r}"
        if key.endswith(URL_SUFFIX):
            assert item is None or (isinstance(item, str) and item), f"{where}: {item!r}"
        assert_contract(item, where)


def assert_wire_response(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    if response.status_code != 204:
        assert response.headers["content-type"].startswith("application/json")
        assert_contract(response.json())


RESPONSE_CHECKS = (
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)
"""schemathesis's response-conformance checks: status documented, content type, body, headers."""


class OpenApiConformance:
    """Holds every answer of an operation to what the app's own OpenAPI document says of it,
    so the document cannot drift from the server."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.schema = schemathesis.openapi.from_dict(document)

    def check(self, response: httpx.Response) -> None:
        request = response.request
        operation = self.schema.find_operation_by_path(request.method, request.url.path)
        if operation is None:
            return  # not an operation (an unknown route, the docs page): nothing documents it
        match = _template(operation.path).fullmatch(request.url.path)
        case = operation.Case(path_parameters=match.groupdict() if match else None)
        try:
            case.validate_response(_as_schemathesis(response), checks=list(RESPONSE_CHECKS))
        except FailureGroup as group:
            found = "\n".join(f"- {fail.title}: {fail.message}" for fail in group.exceptions)
            raise AssertionError(
                f"{request.method} {request.url.path} answered {response.status_code} "
                f"{response.text[:300]!r}, which its OpenAPI document does not allow:\n{found}"
            ) from None


def _as_schemathesis(response: httpx.Response) -> schemathesis.Response:
    """schemathesis's own `from_httpx` re-validates the request's headers with `requests`,
    which refuses values the tests send on purpose (`X-Lock-Token: " "`)."""
    request = requests.PreparedRequest()
    request.method = response.request.method
    request.url = str(response.request.url)
    request.headers = CaseInsensitiveDict(response.request.headers)
    request.body = response.request.content
    return schemathesis.Response(
        status_code=response.status_code,
        headers={name: response.headers.get_list(name) for name in response.headers},
        content=response.content,
        request=request,
        elapsed=response.elapsed.total_seconds(),
        verify=True,
        message=response.reason_phrase,
        encoding=response.encoding,
        http_version=response.http_version,
    )


@cache
def _template(path: str) -> re.Pattern[str]:
    """`/spaces/{space_id}` → a pattern with one named group per path parameter."""
    parts = re.split(r"\{(\w+)\}", path)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    return re.compile(pattern)
