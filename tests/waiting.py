"""Waiting for a condition instead of sleeping for a guess.

A fixed sleep is either too short on a busy machine (the test fails by chance) or too long
everywhere else (the suite pays it every run). These wait exactly as long as the condition
takes, and fail with a clear message after a deadline far past anything a healthy run needs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

DEADLINE = 20.0
"""Seconds before a wait fails: generous, since only a broken run ever reaches it."""

POLL = 0.02
"""Seconds between two looks at a condition nothing can announce."""


async def until(
    check: Callable[[], bool | Awaitable[bool]],
    *,
    within: float = DEADLINE,
    what: str | None = None,
) -> None:
    """Return as soon as `check()` (plain or async) is true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {within:g} s: {what or check}")
        await asyncio.sleep(POLL)


def until_sync(
    check: Callable[[], bool], *, within: float = DEADLINE, what: str | None = None
) -> None:
    """`until` for blocking code (threads, subprocesses)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {within:g} s: {what or check}")
        time.sleep(POLL)
