"""The database's `CommitListener` hears what a write transaction noted, once it committed:
never a rollback, never before `heard_by` nor after its block, and one listener at a time."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text

from roboscope.db.engine import AFTER_COMMIT, Database


class Heard:
    def __init__(self) -> None:
        self.calls: list[set[UUID]] = []

    def committed(self, session_ids: set[UUID], /) -> None:
        self.calls.append(session_ids)


async def _write(db: Database, noted: set[UUID], *, fail: bool = False) -> None:
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.info.setdefault(AFTER_COMMIT, set()).update(noted)
        if fail:
            raise LookupError("the block fails: rolled back")


async def test_the_listener_hears_commits_only_while_attached(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    heard = Heard()
    one, two = uuid4(), uuid4()
    try:
        await _write(db, {one})  # nobody listens yet
        with db.heard_by(heard):
            assert db.listener is heard
            await _write(db, {one, two})
            with pytest.raises(LookupError):
                await _write(db, {two}, fail=True)
            await _write(db, set())  # noted nothing: nothing to hear
            with pytest.raises(RuntimeError), db.heard_by(Heard()):
                pass
            assert db.listener is heard
        assert db.listener is None
        await _write(db, {two})  # detached
    finally:
        await db.dispose()
    assert heard.calls == [{one, two}]
