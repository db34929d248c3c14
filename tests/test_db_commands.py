"""`roboscope db current|history|downgrade`: where a database stands, and the way back.

Each test gets a database of its own (a SQLite file, or a fresh PostgreSQL database), since
going down to nothing must disturb no other test. Success paths run in-process (CliRunner);
failures run as real `roboscope` processes, which must end with one `error:` line and a
non-zero status, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from roboscope.cli import app
from roboscope.db.engine import describe, describe_failure
from roboscope.db.migrate import revisions, upgrade
from roboscope.db.tables import metadata

from .conftest import create_postgres_database, require_service
from .servers import free_port, run_command

IDS = [revision.id for revision in revisions("sqlite://")]
HEAD = IDS[-1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'db' / 'roboscope.db'}"
        return
    shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    yield create_postgres_database(shared, f"{shared.database}_db_commands", fresh=True)


def roboscope(url: str, *args: str) -> tuple[int, str, str]:
    """`roboscope ARGS` in-process on the database `url`."""
    result = CliRunner().invoke(app, list(args), env={"ROBOSCOPE_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr


def one_error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The one `error:` line of a failed command."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line.removeprefix("error: ")


async def _query(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


def current_of(url: str) -> str | None:
    async def read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def tables_of(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        finally:
            await engine.dispose()
        return set(names) - {"alembic_version"}

    return asyncio.run(read())


def schema_differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async def read() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_current_says_where_the_database_stands(database: str) -> None:
    code, out, _ = roboscope(database, "db", "current")
    assert code == 0
    assert out.endswith(f": empty (no revision; the head is {HEAD}): run `roboscope db upgrade`\n")
    assert roboscope(database, "db", "current", "--check")[0] == 1

    upgrade(database, IDS[0])
    code, out, _ = roboscope(database, "db", "current")
    assert code == 0
    assert out.endswith(f": {IDS[0]} (behind the head {HEAD}): run `roboscope db upgrade`\n")
    assert roboscope(database, "db", "current", "--check")[0] == 1

    upgrade(database)
    code, out, _ = roboscope(database, "db", "current", "--check")
    assert code == 0
    assert out.endswith(f": {HEAD} (head)\n")


def test_history_lists_every_revision_oldest_first_and_marks_the_database(database: str) -> None:
    upgrade(database, IDS[1])
    code, out, _ = roboscope(database, "db", "history")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == IDS
    assert lines[1].endswith(" (current)")
    assert lines[-1].endswith(" (head)")
    assert sum("(current" in line for line in lines) == 1


def test_downgrade_walks_down_one_revision_at_a_time_and_up_again(database: str) -> None:
    """Every migration's downgrade works: each step leaves the revision below, base leaves
    no table, and upgrading again builds exactly the schema of tables.py."""
    upgrade(database)
    for was, below in zip(IDS[::-1], [*IDS[-2::-1], None], strict=True):
        code, out, err = roboscope(database, "db", "downgrade", "-1", "--yes")
        assert code == 0, err
        assert out.endswith(f": at {below or 'base'} (was {was})\n")
        assert current_of(database) == below
    assert tables_of(database) == set()
    code, out, _ = roboscope(database, "db", "downgrade", "base", "--yes")
    assert (code, out.endswith(": already at base\n")) == (0, True)

    upgrade(database)
    assert schema_differences(database) == []
    code, _, err = roboscope(database, "db", "downgrade", IDS[1], "--yes")
    assert code == 0, err
    assert current_of(database) == IDS[1]
    code, _, err = roboscope(database, "db", "downgrade", "base", "--yes")
    assert code == 0, err
    assert tables_of(database) == set()
    upgrade(database)
    assert schema_differences(database) == []


def test_downgrade_without_yes_changes_nothing(database: str, tmp_path: Path) -> None:
    upgrade(database)
    result = run_command(
        "db", "downgrade", "base", data_dir=tmp_path, env={"ROBOSCOPE_DATABASE_URL": database}
    )
    assert one_error(result, status=2).endswith(": back it up, then add --yes")
    assert current_of(database) == HEAD
    assert tables_of(database) == set(metadata.tables)


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("xyz", "unknown revision 'xyz'; use -1, base or one of "),
        ("0", "unknown revision '0'; use -1, base or one of "),  # no partial ids
        ("+1", "unknown revision '+1'"),
        ("head", "unknown revision 'head'"),
        ("-9", f"the database is at {IDS[1]}: -9 goes below base (2 applied revisions)"),
        (HEAD, f"the database is at {IDS[1]}; {HEAD} is not below it"),
    ],
)
def test_downgrade_to_a_target_that_is_not_below_is_refused(
    database: str, tmp_path: Path, target: str, problem: str
) -> None:
    upgrade(database, IDS[1])
    env = {"ROBOSCOPE_DATABASE_URL": database}
    result = run_command("db", "downgrade", target, "--yes", data_dir=tmp_path, env=env)
    assert problem in one_error(result)
    assert current_of(database) == IDS[1]


def test_a_database_a_newer_version_migrated_is_named_and_left_alone(
    database: str, tmp_path: Path
) -> None:
    upgrade(database)
    asyncio.run(_query(database, "UPDATE alembic_version SET version_num = '9999'"))
    env = {"ROBOSCOPE_DATABASE_URL": database}

    code, out, _ = roboscope(database, "db", "current")
    assert code == 0
    unknown = f"9999 (unknown to this version, whose head is {HEAD}: a newer version migrated it)"
    assert out.endswith(f": {unknown}\n")
    newer = (
        f"the database is at revision 9999, which this version does not know (its newest is "
        f"{HEAD}): use the version that migrated it, or undo its migrations with that version "
        f"first (`roboscope db downgrade {HEAD} --yes`)"
    )
    assert one_error(run_command("db", "upgrade", data_dir=tmp_path, env=env)) == newer
    assert one_error(run_command("serve", "--port", "0", data_dir=tmp_path, env=env)) == newer
    downgrade = run_command("db", "downgrade", "-1", "--yes", data_dir=tmp_path, env=env)
    assert "which this version does not know" in one_error(downgrade)
    assert current_of(database) == "9999"
    assert tables_of(database) == set(metadata.tables)


@pytest.mark.parametrize(
    "command", [["current"], ["history"], ["downgrade", "-1", "--yes"], ["upgrade"]]
)
def test_an_unreachable_database_is_one_line(tmp_path: Path, command: list[str]) -> None:
    port = free_port()  # nothing listens there
    env = {"ROBOSCOPE_DATABASE_URL": f"postgresql://me:secret@127.0.0.1:{port}/gone"}
    result = run_command("db", *command, data_dir=tmp_path, env=env)
    assert one_error(result) == f"database gone on 127.0.0.1:{port} refuses connections"
    assert "secret" not in result.stderr


def test_a_database_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    url = shared.set(database="roboscope_no_such_database").render_as_string(hide_password=False)
    result = run_command("db", "current", data_dir=tmp_path, env={"ROBOSCOPE_DATABASE_URL": url})
    where = f"{shared.host}:{shared.port or 5432}"
    assert one_error(result) == f"database roboscope_no_such_database on {where} does not exist"


def test_current_on_the_embedded_default_creates_no_file(tmp_path: Path) -> None:
    result = run_command("db", "current", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"database {tmp_path / 'data' / 'roboscope.db'}: empty")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [["current"], ["history"], ["downgrade", "-1", "--yes"]])
def test_db_commands_without_the_server_extra_are_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    hide = "import sys; sys.modules['uvicorn'] = sys.modules['alembic'] = None"
    run = "from roboscope.cli import app; app()"
    result = subprocess.run(
        [sys.executable, "-c", f"{hide}; {run}", "db", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "ROBOSCOPE_DATA_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert one_error(result) == (
        f"`roboscope db {command[0]}` needs the server, which this install lacks "
        "(uvicorn, alembic): pip install 'roboscope[server]'"
    )


def test_a_database_that_refuses_tls_is_named_with_asyncpg_s_reason() -> None:
    error = ConnectionError('PostgreSQL server at "db:5432" rejected SSL upgrade')
    assert describe_failure("postgresql+asyncpg://u:secret@db/roboscope?ssl=require", error) == (
        'database roboscope on db:5432 PostgreSQL server at "db:5432" rejected SSL upgrade'
    )


def test_a_database_on_several_hosts_is_named_by_all_of_them() -> None:
    url = "postgresql+asyncpg://u@/roboscope?host=a:5432&host=b:5433&target_session_attrs=primary"
    assert describe(url) == "roboscope on a:5432,b:5433"
