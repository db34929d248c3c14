"""Small asyncio helpers shared by the background behaviours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger("roboscope.client")


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel `task` and wait for it to end, without swallowing a cancellation of our own
    caller (`asyncio.wait` never raises the child's `CancelledError`)."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait([task])


async def finally_(step: Awaitable[object], what: str) -> BaseException | None:
    """Run a clean-up step to completion even if our caller is cancelled meanwhile
    (`asyncio.shield`); log and return its failure instead of masking the caller's error."""
    try:
        await asyncio.shield(step)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("%s failed: %r", what, error)
        return error
    return None
