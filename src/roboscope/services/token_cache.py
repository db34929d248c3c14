"""API tokens as this process last read them: the token check of a request is a dict lookup,
not a database query.

What keeps it true:

- a revocation is announced to every process (realtime/revocations.py), which `forget`s the
  token before it confirms; a process that was not listening `clear`s everything when it
  subscribes again;
- if an announcement is lost anyway, an entry is read again from the database once it is
  `max_age` seconds old (ROBOSCOPE_AUTH_CACHE_SECONDS), so no process trusts a revoked token
  longer than that;
- an entry keeps the token's expiry and revocation time, checked on every request against
  the clock: an expiry is honoured to the second, cache or not;
- a read that began before a `forget` or `clear` is not stored (`generation`): a database
  answer read before a revocation committed cannot come back after the announcement.

Unknown secrets are not cached: a token created a moment ago on another process must work
here at once. Only found tokens are, at most `max_entries` of them (the oldest go first).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from .access import AccessScope


@dataclass(frozen=True, slots=True)
class CachedToken:
    """A token row as read at `read_at` (monotonic seconds); never its secret."""

    id: UUID
    name: str
    user_id: str | None
    scope: AccessScope
    expires_at: datetime | None
    revoked_at: datetime | None
    secret_hash: str | None
    read_at: float

    @classmethod
    def of_row(cls, row: Mapping[Any, Any], read_at: float) -> CachedToken:
        return cls(
            id=row["id"],
            name=row["name"],
            user_id=row["user_id"],
            scope=row["scope"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            secret_hash=row.get("secret_hash"),
            read_at=read_at,
        )


class TokenCache:
    def __init__(self, max_age: float, max_entries: int = 10_000) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self.generation = 0
        """Bumped by every `forget` and `clear`: a read that began before may not be stored."""
        self._by_id: dict[UUID, CachedToken] = {}
        self._ids_by_hash: dict[str, UUID] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def by_hash(self, secret_hash: str) -> CachedToken | None:
        token_id = self._ids_by_hash.get(secret_hash)
        return None if token_id is None else self.by_id(token_id)

    def by_id(self, token_id: UUID) -> CachedToken | None:
        entry = self._by_id.get(token_id)
        if entry is None or time.monotonic() - entry.read_at >= self.max_age:
            return None
        return entry

    def store(self, row: Mapping[Any, Any], generation: int) -> CachedToken:
        """The row as an entry, kept unless the cache was invalidated since `generation`
        (taken before the read) or caching is off."""
        entry = CachedToken.of_row(row, time.monotonic())
        if generation != self.generation or self.max_age <= 0:
            return entry
        old = self._by_id.pop(entry.id, None)
        if entry.secret_hash is None and old is not None and old.secret_hash is not None:
            entry = CachedToken.of_row({**row, "secret_hash": old.secret_hash}, entry.read_at)
        self._by_id[entry.id] = entry  # (re)inserted last: the dict's order is the age order
        if entry.secret_hash is not None:
            self._ids_by_hash[entry.secret_hash] = entry.id
        while len(self._by_id) > self.max_entries:
            self._drop(next(iter(self._by_id)))
        return entry

    def forget(self, token_id: UUID) -> None:
        self.generation += 1
        self._drop(token_id)

    def clear(self) -> None:
        self.generation += 1
        self._by_id.clear()
        self._ids_by_hash.clear()

    def _drop(self, token_id: UUID) -> None:
        entry = self._by_id.pop(token_id, None)
        if entry is not None and entry.secret_hash is not None:
            self._ids_by_hash.pop(entry.secret_hash, None)
