"""Retry-on-conflict: the iOS guide's OptimisticConcurrencyHandler, done right.

The iOS guide's client refreshes, builds the update, and on a 409 sleeps 200 ms, 400 ms, …:
the same delays for every client, so clients that collided once collide again. Here each attempt
re-reads the resource, re-applies the caller's change to that fresh state, PATCHes with the
fresh version, and on `VersionConflict` sleeps a random time up to an exponentially growing
cap ("full jitter"), which spreads contenders out. Only version conflicts are retried: every
other error is the caller's to see at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .._backoff import BASE_DELAY, MAX_DELAY, P, R, backoff, versioned
from .._concurrency import AsyncFetch, AsyncSend, async_sleep
from ..errors import VersionConflict

log = logging.getLogger("roboscope.client")


async def update_with_retry(
    get: AsyncFetch[R],
    update: AsyncSend[P, R],
    mutate: Callable[[R], P | None],
    *,
    max_attempts: int = 5,
    base_delay: float = BASE_DELAY,
    max_delay: float = MAX_DELAY,
) -> R:
    """Apply `mutate(fresh)` until a PATCH lands or `max_attempts` conflicts happened.

    `mutate` gets the freshly read resource and returns the update to make (its `version`
    is set here), or `None` when nothing needs changing (the fresh resource is returned).
    `mutate` must be a pure function of its input: it runs once per attempt. After
    `max_attempts` conflicts the last `VersionConflict` is raised.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    for attempt in range(1, max_attempts + 1):
        current = await get()
        patch = versioned(mutate, current)
        if patch is None:
            return current
        try:
            return await update(patch)
        except VersionConflict:
            if attempt == max_attempts:
                raise
            log.debug("version conflict, attempt %d of %d", attempt, max_attempts)
            await async_sleep(backoff(attempt, base_delay, max_delay))
    raise AssertionError("unreachable")
