"""The Lua scripts of the realtime layer, read once from package data and registered per client.

One `.lua` file per atomic operation. A few operations share helper functions (presence
pruning); those live in a prelude file that is prepended to the script source, so Redis still
receives one self-contained script per operation. Registered scripts run with EVALSHA and
reload themselves after a Redis restart empties the script cache (NOSCRIPT): also after a
failover (a promoted replica has none of the primary's scripts) and on the node that takes
over a slot in a Redis Cluster.

The one thing a script's text depends on is how it announces live events: `SPUBLISH` on a
Redis Cluster (sharded pub/sub: the channel is in the slot of the script's keys), `PUBLISH`
elsewhere (a single Redis or Sentinel, Redis 6.2 included), on channels whose names carry
the Redis database number (`feed.channel`; a cluster has database 0 only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from redis.exceptions import NoScriptError

from roboscope.realtime.connection import RedisClient, guard, is_cluster
from roboscope.realtime.draws import Draw
from roboscope.realtime.feed import database_suffix
from roboscope.realtime.keys import LIVE_CHANNEL_PREFIX

# operation -> preludes it needs, in order
_CHANGES = ("live_common", "due_common")  # announce the change, and schedule the sweeper
_PRESENCE = (*_CHANGES, "presence_common")
_LOCK = (*_CHANGES, "lock_common")  # the fence and the announced grant's grace
_PRELUDES: dict[str, tuple[str, ...]] = {
    "presence_heartbeat": _PRESENCE,
    "presence_leave": _PRESENCE,
    "presence_snapshot": _PRESENCE,
    "stream_snapshot": _PRESENCE,  # presence_snapshot and lock_status in one
    "presence_sweep": _PRESENCE,
    "lock_acquire": _LOCK,
    "lock_abandon": _CHANGES,
    "lock_extend": _LOCK,
    "lock_release": _CHANGES,
    "lock_force_release": _LOCK,
    "lock_status": (),
    "lock_sweep": _CHANGES,
    "rate_take": ("rate_common",),
    "rate_refund": (),
    "auth_process_beat": (),
    "auth_processes": (),
}


def _read(name: str) -> str:
    return (files("roboscope.realtime") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


@cache
def source(
    name: str, *, sharded: bool = False, channel_suffix: str = "", drawn: bool = False
) -> str:
    """The full source of operation `name`, preludes included; `sharded` for Redis Cluster,
    `channel_suffix` the live channels' Redis database suffix (`feed.database_suffix`);
    `drawn`: the variant that takes its request's rate budget draw first (drawn.lua)."""
    if name not in _PRELUDES:
        raise KeyError(f"unknown script {name!r}")
    parts = [_read(prelude) for prelude in _PRELUDES[name]]
    parts.append(_read(name))
    if drawn:
        head, tail = _read("drawn").split("-- __OPERATION__\n")
        operation = ["local function operation()", parts.pop(), "end"]
        parts = [head, _read("rate_common"), *parts, *operation, tail]
    return (
        "\n".join(parts)
        .replace("__LIVE_CHANNEL_PREFIX__", LIVE_CHANNEL_PREFIX)
        .replace("__LIVE_CHANNEL_SUFFIX__", channel_suffix)
        .replace("__PUBLISH__", "SPUBLISH" if sharded else "PUBLISH")
    )


class Script:
    """A Lua script bound to a client: EVALSHA, and on NOSCRIPT load it and run it again.

    What redis-py's `AsyncScript` does, minus its per-call `isinstance(client, Pipeline)`
    check against a runtime protocol, which profiling showed at ~10 % of a lock request's CPU.
    Called with a `Draw`, it runs the operation's drawn variant instead (made at the first
    such call): the request's rate budget is drawn in the same round trip (draws.py).
    """

    def __init__(self, client: RedisClient, name: str) -> None:
        self._client = client
        self._guard = guard(client)
        self._name = name
        self._plain = _Text(source_for(client, name))
        self._drawn: _Text | None = None

    @property
    def sha(self) -> str:
        return self._plain.sha

    async def __call__(
        self, keys: Sequence[str] = (), args: Sequence[Any] = (), draw: Draw | None = None
    ) -> Any:
        """Run it; "Redis cannot serve this now" surfaces as `RedisUnavailable`. With `draw`:
        the operation's answer once the budget allowed it, else `BudgetSpent` (the
        operation did not run); `draw.state` says which."""
        if draw is None:
            return await self._run(self._plain, keys, args)
        if self._drawn is None:
            self._drawn = _Text(source_for(self._client, self._name, drawn=True))
        draw.state = "unknown"  # until its answer is read
        reply = await self._run(self._drawn, [*keys, draw.key], [*args, *draw.args])
        return draw.outcome(reply)

    async def _run(self, script: _Text, keys: Sequence[str], args: Sequence[Any]) -> Any:
        async with self._guard:
            try:
                return await self._client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                # A restarted (or different) Redis has an empty script cache.
                script.sha = await self._client.script_load(script.text)
                return await self._client.evalsha(script.sha, len(keys), *keys, *args)


class _Text:
    """A script's source and its SHA1 (as Redis's script cache names it)."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode("utf-8")).hexdigest()


def register(client: RedisClient, name: str) -> Script:
    """Bind operation `name` to `client` (no round trip until the first call)."""
    return Script(client, name)


def source_for(client: RedisClient, name: str, *, drawn: bool = False) -> str:
    """The source of operation `name` as `client`'s Redis runs it."""
    return source(
        name, sharded=is_cluster(client), channel_suffix=database_suffix(client), drawn=drawn
    )
