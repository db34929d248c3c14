"""API tokens as this process last read them: the token check of a request is a dict lookup,
not a database query.

A token row never changes but for its revocation (and its expiry, which is a time in the
row), so an entry stays right until the token is revoked. What keeps it true:

- a revocation is announced to every process (realtime/revocations.py), which `forget`s the
  token before it confirms; a process that was not listening `clear`s everything when it
  subscribes again;
- in case an announcement is lost anyway, every process asks the database how many tokens
  are revoked every ROBOSCOPE_AUTH_RECHECK_SECONDS, and `clear`s everything when that
  changed (services/token_watch.py): one tiny query per interval, however many requests;
- an entry keeps the token's expiry, checked on every request against the clock: an expiry
  is honoured to the second;
- a read that began before a `forget` or `clear` is not stored (`generation`): a database
  answer read before a revocation committed cannot come back after the announcement.

Unknown secrets are not cached: a token created a moment ago on another process must work
here at once. Only found tokens are, at most `max_entries` of them (the oldest go first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from .access import AccessScope


@dataclass(frozen=True, slots=True)
class CachedToken:
    """A token row as read from the database; never its secret."""

    id: UUID
    name: str
    user_id: str | None
    scope: AccessScope
    expires_at: datetime | None
    revoked_at: datetime | None
    secret_hash: str | None

    @classmethod
    def of_row(cls, row: Mapping[Any, Any], secret_hash: str | None = None) -> CachedToken:
        return cls(
            id=row["id"],
            name=row["name"],
            user_id=row["user_id"],
            scope=row["scope"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            secret_hash=row.get("secret_hash", secret_hash),
        )


class TokenCache:
    def __init__(self, *, enabled: bool = True, max_entries: int = 10_000) -> None:
        self.enabled = enabled
        """False (ROBOSCOPE_AUTH_RECHECK_SECONDS=0): nothing is kept, every check reads."""
        self.max_entries = max_entries
        self.generation = 0
        """Bumped by every `forget` and `clear`: a read that began before may not be stored."""
        self._by_id: dict[UUID, CachedToken] = {}
        self._by_hash: dict[str, CachedToken] = {}  # the same entries, by their secret's hash

    def __len__(self) -> int:
        return len(self._by_id)

    def by_hash(self, secret_hash: str) -> CachedToken | None:
        """The check of every request that sends a token: one dict lookup."""
        return self._by_hash.get(secret_hash)

    def by_id(self, token_id: UUID) -> CachedToken | None:
        return self._by_id.get(token_id)

    def store(self, row: Mapping[Any, Any], generation: int) -> CachedToken:
        """The row as an entry, kept unless the cache was invalidated since `generation`
        (taken before the read) or is off."""
        old = self._by_id.get(row["id"])
        entry = CachedToken.of_row(row, None if old is None else old.secret_hash)
        if generation != self.generation or not self.enabled:
            return entry
        self._by_id.pop(entry.id, None)
        self._by_id[entry.id] = entry  # (re)inserted last: the dict's order is the age order
        if entry.secret_hash is not None:
            self._by_hash[entry.secret_hash] = entry
        while len(self._by_id) > self.max_entries:
            self._drop(next(iter(self._by_id)))
        return entry

    def forget(self, token_id: UUID) -> None:
        self.generation += 1
        self._drop(token_id)

    def clear(self) -> None:
        self.generation += 1
        self._by_id.clear()
        self._by_hash.clear()

    def _drop(self, token_id: UUID) -> None:
        entry = self._by_id.pop(token_id, None)
        if entry is not None and entry.secret_hash is not None:
            self._by_hash.pop(entry.secret_hash, None)
