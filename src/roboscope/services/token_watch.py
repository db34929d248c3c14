"""How one server process stops a token the moment it is revoked, with tokens cached.

With ROBOSCOPE_AUTH=required each process runs one `TokenWatch` (a task of the app's state):

- it hears revocations (realtime/revocations.py): the token leaves the cache and every
  stream of this process opened with it ends with `stream.closing` (`token_revoked`), then
  the process confirms, so the revoker can answer that the token is refused everywhere;
- it keeps this process in the register of those that must confirm;
- every ROBOSCOPE_AUTH_RECHECK_SECONDS it asks the database how many tokens are revoked,
  and empties the cache when that changed: a revocation whose message was lost still stops
  the token here within that bound;
- once a second it checks the tokens of this process's open streams: a stream whose token
  expired ends (`token_expired`), and one whose revocation was not heard (a lost message,
  or a stream opened as the revocation arrived) ends too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from uuid import UUID

from ..db import tokens as rows
from ..db.engine import Database
from ..realtime.connection import stop_tasks
from ..realtime.revocations import ProcessInfo, Revocations
from . import tokens
from .live import LiveHub
from .token_cache import TokenCache

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
DEREGISTER_SECONDS = 2.0
START_SECONDS = 2.0


class TokenWatch:
    def __init__(
        self,
        db: Database,
        cache: TokenCache,
        hub: LiveHub,
        revocations: Revocations,
        me: ProcessInfo,
        *,
        recheck_seconds: float,
    ) -> None:
        self._db = db
        self._cache = cache
        self._hub = hub
        self._revocations = revocations
        self.me = me
        self._recheck_seconds = recheck_seconds
        self._mark: tuple[int, datetime | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Take the database's revocation mark before the first request (a database that
        is down does not hold the start up: the next look takes it), then watch."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(START_SECONDS):
                await self.recheck()
        self._tasks = [
            asyncio.ensure_future(work)
            for work in (
                self._revocations.listen(self.me, self.revoked, self._cache.clear),
                self._revocations.keep_registered(self.me),
                self._recheck_forever(),
                self._check_streams_forever(),
            )
        ]

    async def stop(self) -> None:
        if left := await stop_tasks(self._tasks):
            log.warning("%d token watch tasks did not stop", left)
        await self._revocations.stop()
        with contextlib.suppress(Exception):  # Redis down: the entry lapses by itself
            async with asyncio.timeout(DEREGISTER_SECONDS):
                await self._revocations.deregister(self.me)

    def revoked(self, token_id: UUID) -> None:
        """Heard: forget the token and end its streams (before this process confirms)."""
        self._cache.forget(token_id)
        ended = self._hub.end_streams_of(token_id, "token_revoked")
        if ended:
            log.info("ended %d live streams of revoked token %s", ended, token_id)

    async def recheck(self) -> None:
        """Empty the cache if a revocation happened since the last look (or nothing says
        none did: the first look, or the one after a failed one)."""
        try:
            async with self._db.read() as conn:
                mark = await rows.revocation_mark(conn)
        except BaseException:
            self._mark = None
            raise
        if self._mark is None or mark != self._mark:
            # (An entry read before the revocation committed is gone now; a read still on
            # its way is not stored: the clear moves the cache's generation on.)
            self._cache.clear()
            self._mark = mark

    async def _recheck_forever(self) -> None:
        if self._recheck_seconds <= 0:
            return  # no cache: every request reads the database
        while True:
            await asyncio.sleep(self._recheck_seconds)
            try:
                await self.recheck()
            except Exception as error:  # a down database: next round
                log.warning("checking for token revocations failed: %s", error)

    async def _check_streams_forever(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await self.check_streams()
            except Exception as error:  # a down database: the next round
                log.warning("checking the live streams' tokens failed: %s", error)

    async def check_streams(self) -> None:
        for token_id in self._hub.streamed_tokens():
            token = await tokens.token_by_id(self._db, self._cache, token_id)
            if token is None or token.revoked_at is not None:
                self._hub.end_streams_of(token_id, "token_revoked")
            elif not tokens.is_live(token):
                self._hub.end_streams_of(token_id, "token_expired")
