"""`Idempotency-Key` on creates: a retried request gets the first answer instead of a second
resource, so a client whose write timed out or got a 503 can always tell what happened.

- The key is claimed, and the full answer (status and body) stored, in the transaction of the
  create itself: either both commit or neither, so a stored key always means "created".
- A repeat of the key on the same route replays that answer byte for byte, marked with
  `Idempotent-Replayed: true`. The same key with a different body is refused (422): a client
  bug that must not silently answer for another request.
- Concurrent duplicates: the key's primary key lets one claim win; the others wait for it
  (PostgreSQL) or run after it (SQLite's serialized writers) and replay its answer.
- Only successful creates are stored: a refused request commits nothing, so repeating it
  simply runs it again.
- Keys are kept for the configured retention; expired ones are reclaimed on reuse and purged
  lazily: each keyed create deletes a bounded batch of the oldest expired keys in its own
  transaction (skipping rows a concurrent purge holds), so no extra commit and no waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pydantic_core
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import idempotency as rows
from ..db.engine import Database
from ..errors import Conflict, InvalidInput, KeyReused
from ..wire.common import as_utc
from .clock import utcnow

MAX_KEY_LENGTH = 255
PURGE_BATCH = 100


@dataclass(frozen=True, slots=True)
class Once:
    """One keyed request: where (`scope`: method and route), which key, and what it asked."""

    scope: str
    key: str
    request_hash: str
    retention: timedelta


@dataclass(frozen=True, slots=True)
class Answer:
    """A create's answer as sent: status and JSON body; `replayed` for a repeated key."""

    status: int
    body: bytes
    replayed: bool = False


def once(key: str | None, *, scope: str, body: bytes, retention_hours: float) -> Once | None:
    """Validate an `Idempotency-Key` header (1 to 255 printable ASCII characters)."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            field="Idempotency-Key",
        )
    return Once(
        scope=scope,
        key=key,
        request_hash=hashlib.sha256(body).hexdigest(),
        retention=timedelta(hours=retention_hours),
    )


Write = Callable[[AsyncConnection], Awaitable[Any]]
"""The create, run inside the transaction; returns the wire model(s) to answer."""


async def write_once(db: Database, key: Once | None, write: Write, *, status: int = 201) -> Answer:
    """Run `write` in one transaction and answer it; with a key, at most once per key."""
    if key is None:
        async with db.transaction() as conn:
            result = await write(conn)
        return Answer(status, pydantic_core.to_json(result))

    # Fast path for a plain retry: a read, without taking SQLite's write lock.
    async with db.read() as conn:
        stored = await rows.get(conn, key.scope, key.key)
    if stored is not None and _fresh(stored, key):
        return _replay(stored, key)

    now = utcnow()
    expired_before = now - key.retention
    async with db.transaction() as conn:
        claimed = await rows.claim(
            conn, key.scope, key.key, key.request_hash, now=now, expired_before=expired_before
        )
        if claimed:
            await rows.purge_expired(conn, expired_before=expired_before, batch=PURGE_BATCH)
            body = pydantic_core.to_json(await write(conn))
            await rows.store_answer(conn, key.scope, key.key, status, body)
        else:
            stored = await rows.get(conn, key.scope, key.key)
    if not claimed:
        if stored is None:  # defensive: a key that cannot be claimed is a fresh, stored one
            raise Conflict("a request with this Idempotency-Key is in progress; retry")
        return _replay(stored, key)
    return Answer(status, body)


def _fresh(stored: rows.StoredKey, key: Once) -> bool:
    # SQLite hands timestamps back naive (they are UTC).
    return as_utc(stored.created_at) >= utcnow() - key.retention


def _replay(stored: rows.StoredKey, key: Once) -> Answer:
    if stored.request_hash != key.request_hash:
        raise KeyReused(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request"
        )
    if stored.status is None or stored.body is None:
        raise Conflict("a request with this Idempotency-Key is in progress; retry")
    return Answer(stored.status, stored.body, replayed=True)
