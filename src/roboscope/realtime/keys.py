"""Redis key names, all in one place.

Every key of one work session carries the hash tag `{<work_session_id>}`, so a script that
touches several of them stays in one Redis Cluster slot. Scripts receive keys through KEYS and
never build names themselves, which is what lets Redis Cluster route them.
"""

from __future__ import annotations

from uuid import UUID

PREFIX = "roboscope"


def _session(session_id: UUID) -> str:
    # str(UUID) is the canonical lowercase form: clients send UPPERCASE ids, the key is the same.
    return f"{PREFIX}:{{{session_id}}}"


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

PRESENCE_DUE = f"{PREFIX}:presence:due"
"""Sorted set session id -> earliest device expiry (ms): where the sweeper looks. Not
hash-tagged (it spans sessions), so no script touches it together with a session's keys."""

LOCKS_DUE = f"{PREFIX}:locks:due"
"""Sorted set session id -> lock expiry (ms), for the sweeper (like PRESENCE_DUE)."""


def presence_due(session_id: UUID) -> str:
    """The due set that holds `session_id`'s presence entry (scripts get it in KEYS)."""
    return PRESENCE_DUE


def locks_due(session_id: UUID) -> str:
    """The due set that holds `session_id`'s lock entry (scripts get it in KEYS)."""
    return LOCKS_DUE


def presence_due_sets() -> list[str]:
    """Every presence due set, for the sweeper and the census to go through."""
    return [PRESENCE_DUE]


def locks_due_sets() -> list[str]:
    """Every lock due set, for the sweeper and the census to go through."""
    return [LOCKS_DUE]


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
