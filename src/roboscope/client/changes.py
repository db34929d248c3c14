"""What changed in a work session's markers: the pure part of marker sync, shared by both
clients (the polling itself is `AsyncMarkerSync` / `MarkerSync`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID

from ..wire import Marker


@dataclass(frozen=True, slots=True)
class MarkerChanges:
    added: tuple[Marker, ...] = ()
    updated: tuple[Marker, ...] = ()
    removed: tuple[Marker, ...] = ()
    """As last seen before they disappeared."""

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


AsyncChangeHandler = Callable[[MarkerChanges], Awaitable[None] | None]
"""The async client's callback: a plain function or a coroutine function."""

ChangeHandler = Callable[[MarkerChanges], None]
"""The blocking client's callback (called in the sync's background thread)."""


def diff(before: Mapping[UUID, Marker], after: Iterable[Marker]) -> MarkerChanges:
    """What changed from `before` to the list `after` (in the server's order)."""
    seen: set[UUID] = set()
    added: list[Marker] = []
    updated: list[Marker] = []
    for marker in after:
        seen.add(marker.id)
        old = before.get(marker.id)
        if old is None:
            added.append(marker)
        elif old.version != marker.version or old != marker:
            updated.append(marker)
    removed = [marker for marker_id, marker in before.items() if marker_id not in seen]
    return MarkerChanges(tuple(added), tuple(updated), tuple(removed))
