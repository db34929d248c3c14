"""How many live streams one process serves: in all, and to one caller.

A stream holds a `StreamSlot` from before it starts (so a refusal is an ordinary error
answer, not a broken stream) until its response ends (claimed by the route through
server/limits.py's `stream_slot`, given back by server/event_stream.py).
Counted per process, in memory: the per-caller cap is per process too, so behind N processes
a caller may hold up to N times it (a count shared through Redis would need bookkeeping that
survives crashed processes, for a cap whose purpose, keeping one caller from taking a
process's streams, this already serves).
"""

from __future__ import annotations

from types import TracebackType

from ..errors import StreamCapacity, TooManyStreams

RETRY_AFTER_SECONDS = 5


class StreamCaps:
    def __init__(self, *, max_streams: int, max_per_caller: int) -> None:
        self.max_streams = max_streams
        self.max_per_caller = max_per_caller
        self.total = 0
        self._by_caller: dict[str, int] = {}

    def claim(self, caller: str) -> StreamSlot:
        """A slot for one more stream of `caller` (`Identity.budget_key`), or 503
        `stream_capacity` when this process is full, 429 `too_many_streams` when the caller
        is."""
        if self.total >= self.max_streams:
            raise StreamCapacity(
                f"this server serves its most live streams ({self.max_streams}); retry shortly",
                retry_after=RETRY_AFTER_SECONDS,
            )
        held = self._by_caller.get(caller, 0)
        if held >= self.max_per_caller:
            raise TooManyStreams(
                f"too many live streams open ({self.max_per_caller}); close one first",
                retry_after=RETRY_AFTER_SECONDS,
            )
        self.total += 1
        self._by_caller[caller] = held + 1
        return StreamSlot(self, caller)

    def _release(self, caller: str) -> None:
        self.total -= 1
        left = self._by_caller[caller] - 1
        if left:
            self._by_caller[caller] = left
        else:
            del self._by_caller[caller]


class StreamSlot:
    """One stream's place; `release()` (or leaving `with`) gives it back, once."""

    __slots__ = ("_caller", "_caps")

    def __init__(self, caps: StreamCaps, caller: str) -> None:
        self._caps: StreamCaps | None = caps
        self._caller = caller

    def release(self) -> None:
        if self._caps is not None:
            caps, self._caps = self._caps, None
            caps._release(self._caller)

    def __enter__(self) -> StreamSlot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
