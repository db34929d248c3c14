"""Why a conditional write found no row to change: missing (404), fenced off (423) or stale
(409). Asked only after the one-statement write failed, inside the same transaction."""

from __future__ import annotations

from uuid import UUID

from ..db.versioned import WriteState
from ..errors import LockRejected, NotFound, RoboscopeError, VersionConflict


def refused_write(
    resource: str, row_id: UUID, state: WriteState | None, fence: int | None
) -> RoboscopeError:
    if state is None:
        return NotFound(f"{resource} {row_id} does not exist")
    if fence is not None and state.lock_fence is not None and state.lock_fence > fence:
        return LockRejected(
            f"a newer holder of the work session's lock has already written this {resource}"
        )
    return VersionConflict(resource, state.version)
