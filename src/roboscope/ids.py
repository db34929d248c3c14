"""Time-ordered UUIDs (version 7, RFC 9562) for primary keys.

Ordering rows by id then gives creation order, also within one bulk insert, and new rows land
at the end of PostgreSQL's indexes instead of at random places.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def new_id() -> uuid.UUID:
    """A UUIDv7 whose 60 bits of timestamp+counter strictly increase within this process."""
    global _last
    with _lock:
        # Millisecond timestamp in the top 48 bits, a 12-bit sub-millisecond sequence below it:
        # when the clock has not moved, the sequence does, so ids never repeat or go backwards.
        now = time.time_ns() // 1_000_000 << 12
        _last = max(now, _last + 1)
        stamp = _last
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (stamp >> 12) << 80 | 0x7 << 76 | (stamp & 0xFFF) << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)
