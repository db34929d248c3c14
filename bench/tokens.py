"""API tokens for the benchmark's clients when the server requires them (`--auth`): one per
client, each for its own user, written straight to the server's database the way
`roboscope tokens create` writes them (a thousand CLI runs would take minutes)."""

from __future__ import annotations

import uuid

from roboscope.db import tokens as token_rows
from roboscope.db.engine import Database
from roboscope.services import tokens
from roboscope.services.access import AccessScope
from roboscope.services.clock import utcnow


def bench_user(index: int) -> str:
    return f"bench-user-{index}"


async def make_tokens(
    database_url: str | None, count: int, scope: AccessScope = "write"
) -> list[str]:
    """Client i's token (write scope unless `scope` says otherwise, user `bench_user(i)`),
    made fresh for each run."""
    if database_url is None:
        raise RuntimeError("the server's database is not known")
    database = Database(database_url)
    secrets = [tokens.new_secret() for _ in range(count)]
    batch = uuid.uuid4().hex[:8]
    now = utcnow()
    try:
        async with database.transaction() as conn:
            for index, secret in enumerate(secrets):
                await token_rows.insert_token(
                    conn,
                    {
                        "id": uuid.uuid4(),
                        "name": f"bench-{batch}-{index}",
                        "user_id": bench_user(index),
                        "scope": scope,
                        "secret_hash": tokens.hash_secret(secret),
                        "created_at": now,
                        "expires_at": None,
                        "revoked_at": None,
                    },
                )
    finally:
        await database.dispose()
    return secrets
