"""The pure part of retry-on-conflict, shared by both clients: full-jitter backoff and the
rule that the version sent is always the one just read."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol, TypeVar

from ..wire.common import Patch


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


R = TypeVar("R", bound=Versioned)
P = TypeVar("P", bound=Patch)

BASE_DELAY = 0.05
MAX_DELAY = 2.0


def backoff(attempt: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))]."""
    return random.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


def versioned(mutate: Callable[[R], P | None], current: R) -> P | None:
    """The caller's update of `current`, carrying `current.version` (or None: no change)."""
    patch = mutate(current)
    if patch is None:
        return None
    # Always the version just read: a stale version the caller built in is never sent.
    return patch.model_copy(update={"version": current.version})
