"""Redis layer: presence, edit locks with fences, and the embedded Redis for the default setup.

Services use the stores; the entry point creates the client (`create_redis`) or, with no
`ROBOSCOPE_REDIS_URL`, starts an `EmbeddedRedis` first.
"""

from roboscope.realtime.connection import create_redis, guard, ping
from roboscope.realtime.embedded import EmbeddedRedis
from roboscope.realtime.locks import LockGrant, LockState, LockStore
from roboscope.realtime.presence import (
    PresenceBeat,
    PresenceMember,
    PresenceSnapshot,
    PresenceStore,
)

__all__ = [
    "EmbeddedRedis",
    "LockGrant",
    "LockState",
    "LockStore",
    "PresenceBeat",
    "PresenceMember",
    "PresenceSnapshot",
    "PresenceStore",
    "create_redis",
    "guard",
    "ping",
]
