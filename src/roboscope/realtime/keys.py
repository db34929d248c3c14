"""Redis key names and live channels, all in one place.

Layout. Work sessions are spread over `SHARDS` shards by their id; every key of a session
carries its shard's hash tag, `roboscope:{s<shard>}:<work_session_id>:…`, and so does
everything a script touches beside them: the shard's two due sets (where the expiry
sweepers look) and the shard's live channel (where the scripts announce presence and lock
events). So on Redis Cluster a script never touches two slots, its sharded `SPUBLISH` goes
to the slot of its keys, and the sweepers and the wake-up listener visit a fixed, small
number of keys and channels (`SHARDS` of each kind), spread over the cluster's primaries
like the sessions themselves. A single Redis holds the same keys.

Scripts receive keys through KEYS and never build names themselves, which is what lets
Redis Cluster route them; the one exception is the live channel, which the script derives
from the hash tag of its first key (lua/live_common.lua), exactly as `live_channel` does.

Changing this layout loses presence and locks held in Redis once, at the upgrade that
changes it (fences stay safe: docs/realtime.md); docs/deployment.md#upgrades says so.
"""

from __future__ import annotations

from uuid import UUID

PREFIX = "roboscope"

SHARDS = 64
"""How many hash tags the work sessions are spread over: enough for the slots of even a
large cluster to be shared out fairly between its primaries, few enough that a sweeper round
(one read per due set) stays cheap. Changing it moves every session's keys (see above)."""

LIVE_CHANNEL_PREFIX = f"{PREFIX}:live:"


def shard(session_id: UUID) -> int:
    """The shard of a work session (ids are random: the shards fill evenly)."""
    return session_id.int % SHARDS


def _tag(shard_number: int) -> str:
    return f"{{s{shard_number}}}"


def _session(session_id: UUID) -> str:
    # str(UUID) is the canonical lowercase form: clients send UPPERCASE ids, the key is the same.
    return f"{PREFIX}:{_tag(shard(session_id))}:{session_id}"


def lock(session_id: UUID) -> str:
    """Hash of the current grant (token, fence, owner); its key TTL is the lock's TTL."""
    return f"{_session(session_id)}:lock"


def lock_abandoned(session_id: UUID, token: str) -> str:
    """Mark of a token whose acquire was given up: it may never take the lock (short TTL)."""
    return f"{_session(session_id)}:lock:abandoned:{token}"


def lock_announced(session_id: UUID) -> str:
    """Hash of the grant the live stream last announced (owner, fence, expiry): whoever finds
    it after the lock expired announces the expiry, once (lock_sweep.lua)."""
    return f"{_session(session_id)}:lock:announced"


AUTH_PROCESSES = f"{PREFIX}:auth:processes"
"""Sorted set: the server processes that must confirm a token revocation (their JSON
description) -> when their registration lapses (ms, Redis's clock); see revocations.py."""


def presence_due(session_id: UUID) -> str:
    """Sorted set session id -> earliest device expiry (ms) of the sessions of this session's
    shard: where the sweeper looks. In the session's slot, so a script may update it."""
    return _presence_due(shard(session_id))


def locks_due(session_id: UUID) -> str:
    """Sorted set session id -> lock expiry (ms) of the shard's sessions (like presence_due)."""
    return _locks_due(shard(session_id))


def presence_due_sets() -> list[str]:
    """Every shard's presence due set: what one sweeper round reads."""
    return [_presence_due(number) for number in range(SHARDS)]


def locks_due_sets() -> list[str]:
    """Every shard's lock due set."""
    return [_locks_due(number) for number in range(SHARDS)]


def _presence_due(shard_number: int) -> str:
    return f"{PREFIX}:{_tag(shard_number)}:presence:due"


def _locks_due(shard_number: int) -> str:
    return f"{PREFIX}:{_tag(shard_number)}:locks:due"


def live_channel(session_id: UUID) -> str:
    """The channel of the session's shard: presence and lock events and data-change
    wake-ups of its sessions (in its slot: Redis Cluster's sharded pub/sub)."""
    return _live_channel(shard(session_id))


def live_channels() -> list[str]:
    """Every shard's live channel: what each API process listens to."""
    return [_live_channel(number) for number in range(SHARDS)]


def _live_channel(shard_number: int) -> str:
    return f"{LIVE_CHANNEL_PREFIX}{_tag(shard_number)}"


def fence(session_id: UUID) -> str:
    """Counter of the newest fence handed out for this session."""
    return f"{_session(session_id)}:fence"


def presence_devices(session_id: UUID) -> str:
    """Sorted set of JSON `[user_id, device_id]` scored by expiry (ms): what pruning scans."""
    return f"{_session(session_id)}:presence:devices"


def presence_users(session_id: UUID) -> str:
    """Hash user_id -> JSON state (join time, last beat, device expiries); HLEN counts users."""
    return f"{_session(session_id)}:presence:users"


def presence_profiles(session_id: UUID) -> str:
    """Hash user_id -> JSON {display_name, meta} of the user's latest heartbeat, opaque to Lua."""
    return f"{_session(session_id)}:presence:profiles"


def presence_present(session_id: UUID) -> str:
    """Sorted set user_id -> expiry of the user's latest device (ms): ZCOUNT counts users."""
    return f"{_session(session_id)}:presence:present"


def presence(session_id: UUID) -> list[str]:
    """The presence keys in the order the presence scripts expect them in KEYS."""
    return [
        presence_devices(session_id),
        presence_users(session_id),
        presence_profiles(session_id),
        presence_present(session_id),
    ]


def rate_budget(budget: str, caller: str) -> str:
    """The GCRA timestamp of one caller's budget (`Identity.budget_key`: token or address).
    Not hash-tagged: the script touches this key alone."""
    return f"{PREFIX}:rate:{budget}:{caller}"
