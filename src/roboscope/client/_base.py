"""What both clients share: the base URL, the iOS-like headers and the timeout."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import httpx

from .. import API_PREFIX as API_PREFIX
from .. import DEFAULT_URL as DEFAULT_URL  # the SDK's default server

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Per phase (connect, read, write, pool); well inside the 30 s every request must fit."""

LIMITS = httpx.Limits(keepalive_expiry=2.0)
"""Idle connections are dropped well before the server closes them (uvicorn's keep-alive,
5 s by default): a request sent on a connection the server is closing at that moment fails."""


def sdk_version() -> str:
    try:
        return version("roboscope")
    except PackageNotFoundError:  # running from a source tree
        return "0"


HEADERS = {
    # The iOS clients send both on every request, GET and DELETE included.
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": f"roboscope-python/{sdk_version()}",
}


def api_url(url: str) -> str:
    """`http://host:port` → `http://host:port/api/v1` (a URL that already ends so is kept)."""
    base = url.rstrip("/")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX
