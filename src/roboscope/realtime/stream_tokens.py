"""Short-lived query tokens for the live stream (browsers' `EventSource` cannot send an
`Authorization` header, so it carries `?access_token=` instead).

Kept in Redis, so a token made on one process works on every other; bound to one work
session by its key, and to the API token it was made with, which the edge checks again on
use (revoking that token ends its query tokens too). Only a SHA-256 of the secret is kept.
"""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

from roboscope.realtime import keys
from roboscope.realtime.connection import RedisClient, guard

PREFIX = "rbq_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class StreamTokens:
    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def issue(self, session_id: UUID, token_id: UUID | None, ttl_ms: int) -> str:
        """A new query token for `session_id`'s stream, valid for `ttl_ms`."""
        secret = PREFIX + secrets.token_urlsafe(24)
        value = "" if token_id is None else str(token_id)
        async with guard():
            await self._client.set(keys.stream_token(session_id, _hash(secret)), value, px=ttl_ms)
        return secret

    async def resolve(self, session_id: UUID, secret: str) -> UUID | None:
        """The API token behind a live query token of this session; None when the query
        token is unknown, expired, made for another session, or made with auth off (then
        no API token stands behind it)."""
        if not secret.startswith(PREFIX) or len(secret) > 100:
            return None
        async with guard():
            value = await self._client.get(keys.stream_token(session_id, _hash(secret)))
        text = value.decode() if isinstance(value, bytes) else value
        return UUID(text) if text else None
