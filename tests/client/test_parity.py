"""The blocking client is generated from the async one: same methods, same behaviours, and
the generated files are what the generator makes (`./dev lint` checks that too)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from roboscope.client import (
    AsyncClient,
    AsyncHeldLock,
    AsyncMarkerSync,
    AsyncPresenceSession,
    Client,
    HeldLock,
    MarkerSync,
    PresenceSession,
)

ROOT = Path(__file__).resolve().parents[2]

# The only names that differ, each async name with its blocking twin.
RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def public_methods(cls: type) -> dict[str, bool]:
    """Public methods and properties (plus the context protocol), each with whether it is a
    coroutine function."""
    out: dict[str, bool] = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_") and name not in RENAMED and name not in RENAMED.values():
            continue
        if callable(value) or isinstance(value, property):
            out[name] = inspect.iscoroutinefunction(value)
    return out


def test_client_and_async_client_have_the_same_methods() -> None:
    async_methods = public_methods(AsyncClient)
    blocking = public_methods(Client)
    assert {RENAMED.get(name, name) for name in async_methods} == set(blocking)
    assert not any(blocking.values())  # nothing to await in the blocking client
    # Every API call is a coroutine in the async client; the behaviours return context
    # managers in both, `events` an iterator, `http` and `base_url` are properties.
    behaviours = {"presence", "hold_lock", "marker_sync", "events", "base_url", "http"}
    assert {name for name, is_async in async_methods.items() if not is_async} == behaviours


def test_behaviours_have_the_same_methods() -> None:
    pairs = [
        (AsyncPresenceSession, PresenceSession),
        (AsyncHeldLock, HeldLock),
        (AsyncMarkerSync, MarkerSync),
    ]
    for async_cls, blocking_cls in pairs:
        async_methods = public_methods(async_cls)
        blocking = public_methods(blocking_cls)
        assert {RENAMED.get(name, name) for name in async_methods} == set(blocking)
        assert not any(blocking.values())


def test_generated_files_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/unasync_client.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
