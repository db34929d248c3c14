"""What one API process holds for its lifetime: settings, the database, the Redis stores.

Built in the app's lifespan. With no `ROBOSCOPE_REDIS_URL` the process starts an embedded
Redis itself (`roboscope serve` starts it once, before any worker, and passes its URL down).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from ..background import Background
from ..db.engine import Database
from ..rate_budgets import BUDGETS, Budget
from ..realtime import EmbeddedRedis, LockStore, PresenceStore, create_redis
from ..realtime.connection import RedisClient
from ..realtime.rate_limits import Rate, RateStore
from ..realtime.revocations import ProcessInfo, Revocations
from ..realtime.sweeper import Sweeper
from ..secret_key import fingerprint, server_key
from ..services import changes, listed_markers
from ..services.grant_fences import GrantFences
from ..services.limits import RateLimits
from ..services.live import LiveHub
from ..services.locks import LockPolicy
from ..services.stream_caps import StreamCaps
from ..services.stream_tokens import StreamTokenSigner
from ..services.token_cache import TokenCache
from ..services.token_watch import TokenWatch
from ..settings import Settings, database_fingerprint
from .exit_signals import on_exit_signal
from .stream_upkeep import EventStreams


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    database: Database
    redis: RedisClient
    presence: PresenceStore
    locks: LockStore
    lock_policy: LockPolicy
    grant_fences: GrantFences
    live: LiveHub
    streams: EventStreams
    stream_signer: StreamTokenSigner
    token_cache: TokenCache
    revocations: Revocations
    token_watch: TokenWatch | None
    """None with auth off (no token to watch)."""
    rate_limits: RateLimits | None
    """None when ROBOSCOPE_RATE_LIMITS is off."""
    stream_caps: StreamCaps


def rate_limits(settings: Settings, redis: RedisClient) -> RateLimits | None:
    """The configured budgets; a rate of 0 turns its budget off."""
    if not settings.rate_limits:
        return None
    rates: dict[Budget, Rate | None] = {}
    for spec in BUDGETS:
        per_second, burst = settings.rate(spec.name)
        rates[spec.name] = Rate(per_second, burst) if per_second > 0 else None
    return RateLimits(RateStore(redis), rates)


@asynccontextmanager
async def app_state(settings: Settings) -> AsyncIterator[AppState]:
    """Everything the process holds, each resource and background task opened in turn under
    one `AsyncExitStack`: whatever was opened is closed, in reverse order, when the app
    stops and also when a later step of the start fails."""
    async with AsyncExitStack() as stack:
        # The stream tokens' key first: without it (auth required) nothing else should start.
        # With auth off no token is ever checked: nothing to sign (a throwaway key), cache
        # or watch.
        if settings.auth == "required":
            key = await asyncio.to_thread(server_key, settings)
        else:
            key = secrets.token_bytes(32)
        redis_url = settings.redis_url
        if redis_url is None:
            embedded = EmbeddedRedis(settings.data_dir)
            redis_url = await asyncio.to_thread(embedded.start)
            stack.push_async_callback(asyncio.to_thread, embedded.stop)
        database = Database(
            settings.resolved_database_url, timeout=settings.database_timeout_seconds
        )
        stack.push_async_callback(database.dispose)
        redis = create_redis(
            redis_url,
            timeout=settings.redis_timeout_seconds,
            max_connections=settings.redis_max_connections,
            pool_timeout=settings.redis_pool_timeout_seconds,
        )
        stack.push_async_callback(redis.aclose)
        grant_fences = GrantFences(database)
        stack.push_async_callback(grant_fences.aclose)  # after the locks' undos, below
        locks = LockStore(redis)
        stack.push_async_callback(locks.aclose)  # its undos of lost grants, in the background
        upkeep = await stack.enter_async_context(Background("expiry and retention"))
        upkeep.spawn(Sweeper(redis).run())  # presence and lock expiries announced
        upkeep.spawn(listed_markers.store_missing_forever(database))  # once, at each start
        upkeep.spawn(
            changes.retain_forever(
                database,
                changes.Retention(
                    max_age=timedelta(days=settings.changes_retention_days),
                    max_count=settings.changes_retention_count,
                ),
            )
        )
        live = await stack.enter_async_context(
            LiveHub(
                database,
                redis,
                queue_size=settings.live_queue_size,
                poll_seconds=settings.live_poll_seconds,
            )
        )
        # The hub hears this process's commits (db.engine.CommitListener) while it runs.
        stack.enter_context(database.heard_by(live))
        streams = await stack.enter_async_context(
            EventStreams(send_timeout=settings.live_send_timeout_seconds, catch_up=live.catch_up)
        )
        stack.enter_context(on_exit_signal(streams.stop_soon))
        token_cache = TokenCache(enabled=settings.auth_recheck_seconds > 0)
        revocations = Revocations(redis)
        watch = None
        if settings.auth == "required":
            me = ProcessInfo.of_this_process(
                key=fingerprint(key), database=database_fingerprint(settings)
            )
            watch = TokenWatch(
                database,
                token_cache,
                live,
                revocations,
                me,
                recheck_seconds=settings.auth_recheck_seconds,
            )
            await watch.start()
            stack.push_async_callback(watch.stop)
        yield AppState(
            settings=settings,
            database=database,
            redis=redis,
            presence=PresenceStore(redis, max_devices=settings.presence_max_devices_per_session),
            locks=locks,
            lock_policy=LockPolicy(
                default_ttl_seconds=settings.lock_default_ttl_seconds,
                max_ttl_seconds=settings.lock_max_ttl_seconds,
            ),
            grant_fences=grant_fences,
            live=live,
            streams=streams,
            stream_signer=StreamTokenSigner(key),
            token_cache=token_cache,
            revocations=revocations,
            token_watch=watch,
            rate_limits=rate_limits(settings, redis),
            stream_caps=StreamCaps(
                max_streams=settings.live_max_streams,
                max_per_caller=settings.live_max_streams_per_caller,
            ),
        )
