"""The live stream's query tokens (browsers' `EventSource` cannot send `Authorization`, so
it carries `?access_token=`), self-contained and signed.

A token is `rbq_` and the URL-safe base64 of: the work session's id, the id of the API token
it was made with, its expiry (Unix seconds), and an HMAC-SHA256 of those with a key derived
from the server's secret key (secret_key.py). Any process that has the key checks one
without asking anything, and it stays valid across a restart, until its expiry; the edge
then checks the API token inside it like a bearer token, so revoking that token ends its
query tokens (and the streams opened with them) too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import UTC, datetime
from uuid import UUID

from ..errors import RedisUnavailable
from ..realtime import create_redis
from ..realtime.revocations import Revocations
from ..secret_key import SecretKeyError, fingerprint, server_key
from ..settings import Settings, database_fingerprint

PREFIX = "rbq_"
_NO_TOKEN = UUID(int=0)  # made with auth off: nothing stands behind it
_BODY = struct.Struct(">16s16sQ")  # session id, API token id, expiry (Unix seconds)
_MAC_BYTES = 32
_LENGTH = len(PREFIX) + len(base64.urlsafe_b64encode(bytes(_BODY.size + _MAC_BYTES)))


class StreamTokenSigner:
    def __init__(self, server_key: bytes) -> None:
        self._key = hmac.new(server_key, b"roboscope stream token v1", hashlib.sha256).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def issue(self, session_id: UUID, token_id: UUID | None, expires_at: datetime) -> str:
        """A query token for `session_id`'s stream, valid until `expires_at` (whole seconds)."""
        body = _BODY.pack(
            session_id.bytes, (token_id or _NO_TOKEN).bytes, int(expires_at.timestamp())
        )
        return PREFIX + base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii")

    def verify(self, session_id: UUID, text: str, now: datetime) -> UUID | None:
        """The API token behind a valid query token of this session; None when it is
        malformed, forged, expired, made for another session, or made with auth off."""
        if len(text) != _LENGTH or not text.startswith(PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(text[len(PREFIX) :].encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
        body, mac = raw[: _BODY.size], raw[_BODY.size :]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        session, token, expires = _BODY.unpack(body)
        if session != session_id.bytes or now >= datetime.fromtimestamp(expires, UTC):
            return None
        token_id = UUID(bytes=token)
        return None if token_id == _NO_TOKEN else token_id


async def signing_problem(settings: Settings) -> str | None:
    """Why a server with auth required may not start, or None: its key cannot be had, or it
    would sign with another key than a live server process of the same database (hosts that
    each keep the key of their own data dir: their query tokens would fail on one another)."""
    try:
        key = server_key(settings)
    except SecretKeyError as error:
        return str(error)
    if settings.secret_key is not None or settings.redis_url is None:
        return None  # one key given to all, or one host (the embedded Redis is local)
    redis = create_redis(settings.redis_url, timeout=settings.redis_timeout_seconds)
    try:
        others = await Revocations(redis).processes()
    except RedisUnavailable:
        return None  # a server starts without Redis (503s until it is back)
    finally:
        await redis.aclose()
    mine, database = fingerprint(key), database_fingerprint(settings)
    for other in others:
        if other.database == database and other.key != mine:
            return (
                f"another server process of this database ({other}) signs stream tokens with "
                "another key (each host made its own in its data dir): set "
                "ROBOSCOPE_SECRET_KEY to one value on every host (docs/deployment.md)"
            )
    return None
