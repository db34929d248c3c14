"""The Lua scripts of the realtime layer, read once from package data and registered per client.

One `.lua` file per atomic operation. A few operations share helper functions (presence
pruning); those live in a prelude file that is prepended to the script source, so Redis still
receives one self-contained script per operation. Registered scripts run with EVALSHA and
reload themselves after a Redis restart empties the script cache (redis-py handles NOSCRIPT).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

# operation -> preludes it needs, in order
_PRELUDES: dict[str, tuple[str, ...]] = {
    "presence_heartbeat": ("presence_common",),
    "presence_leave": ("presence_common",),
    "presence_snapshot": ("presence_common",),
    "lock_acquire": (),
    "lock_extend": (),
    "lock_release": (),
    "lock_status": (),
}


def _read(name: str) -> str:
    return (files("roboscope.realtime") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


@cache
def source(name: str) -> str:
    """The full source of operation `name`, preludes included."""
    if name not in _PRELUDES:
        raise KeyError(f"unknown script {name!r}")
    parts = [_read(prelude) for prelude in _PRELUDES[name]]
    parts.append(_read(name))
    return "\n".join(parts)


def register(client: Redis, name: str) -> AsyncScript:
    """Register operation `name` on `client` (no round trip until the first call)."""
    return client.register_script(source(name))
