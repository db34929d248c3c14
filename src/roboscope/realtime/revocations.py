"""Token revocations told to every server process through Redis, and the register of the
processes that must confirm them.

Processes that check API tokens (ROBOSCOPE_AUTH=required) keep them in an in-process cache
(services/token_cache.py), so a revocation must reach each of them before the revoker can
say it is in force:

- every such process registers in one sorted set (member: who it is, as JSON; score: when
  the registration lapses, by Redis's clock), renews it every `BEAT_SECONDS` and removes it
  when it stops; one that dies stops counting `PROCESS_TTL_SECONDS` later;
- a revoker subscribes to a reply channel of its own, reads the register, publishes the
  token id and that channel on `CHANNEL`, and waits, bounded, until every registered process
  has replied with its id. It reports those that did not;
- a process that hears a revocation forgets the token and ends its streams *before* it
  replies, so once every reply is in, the next request with that token is refused everywhere.

A process registers only once it listens (after its subscription), so every process in the
register can reply. Pub/sub loses messages while a subscriber is disconnected: a process
clears its whole cache whenever it (re)subscribes, and asks the database for revocations
every ROBOSCOPE_AUTH_RECHECK_SECONDS anyway (services/token_watch.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID, uuid4

from . import feed, keys, scripts
from .connection import RedisClient, guard, stop_tasks

log = logging.getLogger(__name__)

CHANNEL = "roboscope:auth:revoked"
_REPLIES = "roboscope:auth:confirmed:"
BEAT_SECONDS = 2.0
PROCESS_TTL_SECONDS = 6.0
CONFIRM_SECONDS = 2.0
"""How long a revoker waits for the registered processes to confirm."""


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A registered server process: `id` is unique per process run; `key` and `database`
    are fingerprints (never secrets) of what it signs stream tokens with and what it serves,
    so a process can tell that another one sharing its database signs differently."""

    id: str
    host: str
    pid: int
    key: str
    database: str

    @classmethod
    def of_this_process(cls, *, key: str, database: str) -> ProcessInfo:
        host = socket.gethostname()
        pid = os.getpid()
        return cls(f"{host}:{pid}:{secrets.token_hex(4)}", host, pid, key, database)

    @property
    def member(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, member: str) -> ProcessInfo | None:
        try:
            return cls(**json.loads(member))
        except (TypeError, ValueError):
            return None

    def __str__(self) -> str:
        return f"{self.host} pid {self.pid}"


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What a revoker learnt: how many processes were registered, and which of them did not
    confirm within `CONFIRM_SECONDS`."""

    processes: int
    unconfirmed: list[ProcessInfo]


class Revocations:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._beat = scripts.register(redis, "auth_process_beat")
        self._processes = scripts.register(redis, "auth_processes")
        self._tasks: set[asyncio.Task[None]] = set()
        self._listening = False

    # -- the register -------------------------------------------------------------------------

    async def register(self, me: ProcessInfo) -> None:
        await self._beat([keys.AUTH_PROCESSES], [me.member, int(PROCESS_TTL_SECONDS * 1000)])

    async def deregister(self, me: ProcessInfo) -> None:
        async with guard(self._redis):
            await self._redis.zrem(keys.AUTH_PROCESSES, me.member)

    async def processes(self) -> list[ProcessInfo]:
        """The processes registered now."""
        members = await self._processes([keys.AUTH_PROCESSES])
        return [info for member in members if (info := ProcessInfo.parse(member)) is not None]

    # -- revoking -----------------------------------------------------------------------------

    async def announce(self, token_id: UUID, *, wait: float = CONFIRM_SECONDS) -> Confirmation:
        """Tell every registered process that `token_id` is revoked, and wait (at most
        `wait` seconds) for each to confirm. Raises `RedisUnavailable` when Redis cannot
        be reached: then nobody was told."""
        replies = f"{_REPLIES}{uuid4()}"
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with guard(self._redis):
                await pubsub.subscribe(replies)
                registered = await self.processes()
                message = {"token": str(token_id), "reply": replies}
                await self._redis.publish(
                    feed.channel(self._redis, CHANNEL), json.dumps(message, separators=(",", ":"))
                )
                waiting = {info.id: info for info in registered}
                loop = asyncio.get_running_loop()
                deadline = loop.time() + wait
                while waiting and (left := deadline - loop.time()) > 0:
                    reply = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=min(left, 1.0)
                    )
                    if reply is not None:
                        waiting.pop(str(reply["data"]), None)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        return Confirmation(len(registered), sorted(waiting.values(), key=str))

    # -- hearing revocations ------------------------------------------------------------------

    async def listen(
        self,
        me: ProcessInfo,
        on_revoked: Callable[[UUID], None],
        on_connected: Callable[[], None],
    ) -> None:
        """Hear revocations until cancelled: `on_revoked(token_id)` runs, then this process
        confirms. `on_connected` runs after every (re)subscription, before the process
        (re)registers: revocations may have been missed while it was not listening."""

        def connected() -> None:
            on_connected()
            self._listening = True
            self._spawn(self._register_quietly(me))

        def heard(payload: dict[str, Any]) -> None:
            try:
                token_id = UUID(str(payload["token"]))
                reply = str(payload["reply"])
            except (KeyError, TypeError, ValueError):
                log.warning("ignored a malformed revocation message: %r", payload)
                return
            on_revoked(token_id)
            self._spawn(self._confirm(reply, me))

        await feed.listen(self._redis, heard, connected, base=CHANNEL)

    async def keep_registered(self, me: ProcessInfo) -> None:
        """Renew the registration until cancelled (an outage only delays a renewal); never
        before `listen` first subscribed: a registered process must be able to confirm."""
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            if self._listening:
                await self._register_quietly(me)

    async def stop(self) -> None:
        """Stop the confirmations and registrations still on their way."""
        await stop_tasks(self._tasks)

    async def _register_quietly(self, me: ProcessInfo) -> None:
        try:
            await self.register(me)
        except Exception as error:  # Redis down: the next beat tries again
            log.warning("token revocation register not renewed: %s", error)

    async def _confirm(self, reply: str, me: ProcessInfo) -> None:
        try:
            async with guard(self._redis):
                await self._redis.publish(reply, me.id)
        except Exception as error:  # the revoker reports this process as unconfirmed
            log.warning("token revocation not confirmed: %s", error)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
