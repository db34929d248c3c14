"""Checks of the docs/contract.md response rules, applied to any decoded JSON body."""

from __future__ import annotations

import re
from typing import Any

import httpx

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
