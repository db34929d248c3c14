"""The benchmark's baseline: the cheapest useful Redis write, one `SET key value NX PX`.

Lock and presence requests are measured against a route that does only this, so their ratio
to it shows what the rules cost on top of "the framework plus one Redis round trip".
"""

from __future__ import annotations

from redis.asyncio import Redis

from roboscope.realtime.connection import guard


async def set_nx(client: Redis, key: str, value: str, *, ttl_ms: int = 30_000) -> bool:
    """One `SET key value NX PX ttl_ms`; True when the key was set (it did not exist)."""
    async with guard():
        return bool(await client.set(key, value, nx=True, px=ttl_ms))
