"""Why a versioned write found no row to change: missing (404) or stale (409). Asked only
after the one-statement write failed, inside the same transaction. (A write fenced off by a
newer lock holder never gets this far: `locks.enforce_fence` refuses it first.)"""

from __future__ import annotations

from uuid import UUID

from ..errors import NotFound, RoboscopeError, VersionConflict


def refused_write(resource: str, row_id: UUID, current_version: int | None) -> RoboscopeError:
    if current_version is None:
        return NotFound(f"{resource} {row_id} does not exist")
    return VersionConflict(resource, current_version)
