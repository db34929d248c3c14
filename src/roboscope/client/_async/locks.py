"""An edit lock that is kept while you work: the iOS guide's LockService, done right.

The iOS guide's client extends at 50 % of the TTL with `try?` and never looks at the answer,
so a lock that expired (app suspended, network gone) or was taken over goes unnoticed and the client
keeps editing as if it held it. Here:

- contention raises `LockUnavailable` on entering (a context manager that yields "no lock"
  would make every caller check for it; the exception cannot be forgotten);
- the lock is extended every `extend_every` seconds (half the TTL by default) in the
  background (a task for the async client, a thread for the blocking one); a transient
  failure is logged and retried within a second;
- loss is noticed and made visible: an extend answered `extended: false`, or no successful
  extend before the TTL ran out, sets `lost`, the `lost_event`, and `lost_reason`; from
  then on `token` raises `LockLost`, so no write can carry a dead token by accident (and the
  server refuses one anyway: 423 `locked`);
- the lock is released on exit (also when the surrounding task is cancelled), unless it was
  lost: a dead token releases nothing.
"""

from __future__ import annotations

import logging
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ...wire.locks import LockGrant
from .._calls import Id, uid
from .._concurrency import AsyncBackground, AsyncEvent, async_cleanup
from ..errors import ClientError, LockLost, LockUnavailable

if TYPE_CHECKING:
    from .client import AsyncClient

log = logging.getLogger("roboscope.client")

RETRY_DELAY = 1.0
"""How soon a failed extend is retried (capped by `extend_every`)."""


class AsyncHeldLock:
    """A context manager from `client.hold_lock(session_id, ttl_seconds=30)`: write with
    `lock_token=lock.token` while inside."""

    def __init__(
        self,
        client: AsyncClient,
        session_id: Id,
        *,
        ttl_seconds: int = 30,
        owner: str | None = None,
        extend_every: float | None = None,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        every = ttl_seconds / 2 if extend_every is None else extend_every
        if every <= 0:
            raise ValueError("extend_every must be positive")
        self._client = client
        self.session_id = uid(session_id)
        self.ttl_seconds = ttl_seconds
        self.owner = owner
        self.extend_every = every
        self.extensions = 0
        """Successful extends so far."""
        self.last_error: BaseException | None = None
        """The most recent failure of an extend or of releasing."""
        self.lost_event = AsyncEvent()
        self.lost_reason: str | None = None
        self.released = False
        self._grant: LockGrant | None = None
        self._deadline = 0.0  # monotonic time by which the lock has surely expired unless extended
        self._background = AsyncBackground()

    async def __aenter__(self) -> Self:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()

    @property
    def lost(self) -> bool:
        return self.lost_event.is_set()

    @property
    def held(self) -> bool:
        """Acquired, not released and, as far as we know, not lost."""
        return self._grant is not None and not self.released and not self.lost

    @property
    def token(self) -> str:
        """The token for `lock_token=`; raises `LockLost` once the lock is lost or released."""
        self._check()
        assert self._grant is not None and self._grant.token is not None
        return self._grant.token

    @property
    def fence(self) -> int | None:
        """The grant's fencing number (grows with every new holder of this lock)."""
        self._check()
        assert self._grant is not None
        return self._grant.fence

    async def acquire(self) -> None:
        """Acquire and start extending; raises `LockUnavailable` when someone else holds it."""
        if self._grant is not None:
            raise RuntimeError("this lock was already acquired; make a new one")
        sent = monotonic()
        grant = await self._client.acquire_lock(self.session_id, self.ttl_seconds, owner=self.owner)
        if not grant.acquired or grant.token is None:
            raise LockUnavailable(self.session_id)
        self._grant = grant
        self._deadline = sent + self.ttl_seconds
        self._background.start(self._extend_forever, f"lock {self.session_id}")

    async def release(self) -> bool:
        """Stop extending and release; idempotent. True if the server released it now."""
        if self._grant is None or self.released:
            return False
        self.released = True
        await self._background.stop()
        if self.lost or self._grant.token is None:
            return False
        token = self._grant.token
        outcome: list[bool] = []

        async def release() -> None:
            answer = await self._client.release_lock(self.session_id, token)
            outcome.append(answer.released)

        error = await async_cleanup(release, f"releasing the lock of {self.session_id}")
        if error is not None:
            self.last_error = error
        return outcome == [True]

    def _check(self) -> None:
        if self._grant is None:
            raise LockLost(f"the lock of {self.session_id} was not acquired")
        if self.lost:
            raise LockLost(f"the lock of {self.session_id} was lost: {self.lost_reason}")
        if self.released:
            raise LockLost(f"the lock of {self.session_id} was released")

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self.lost_event.set()
        log.warning("lock of %s lost: %s", self.session_id, reason)

    async def _extend_forever(self) -> None:
        assert self._grant is not None and self._grant.token is not None
        token = self._grant.token
        delay = self.extend_every
        while True:
            if await self._background.pause(delay):
                return
            sent = monotonic()
            try:
                answer = await self._client.extend_lock(self.session_id, token, self.ttl_seconds)
            except Exception as error:  # transient: retry soon, unless the TTL ran out
                self.last_error = error
                if isinstance(error, ClientError):
                    log.warning("extending the lock of %s failed: %s", self.session_id, error)
                else:
                    log.exception("extending the lock of %s failed", self.session_id)
                if monotonic() >= self._deadline:
                    self._lose(f"could not extend it before its TTL ran out ({error})")
                    return
                delay = min(self.extend_every, RETRY_DELAY)
                continue
            if not answer.extended:
                self._lose("the server refused to extend it: it expired or was taken over")
                return
            self._deadline = sent + self.ttl_seconds
            self.extensions += 1
            delay = self.extend_every
