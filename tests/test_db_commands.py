"""`roboscope db …` and `roboscope tokens …`: the database they act on (named, refused when
it does not exist, chosen by the server's env file), where it stands, and the way back.

Each test gets a database of its own (a SQLite file, or a fresh PostgreSQL database), since
going down to nothing must disturb no other test. Success paths run in-process (CliRunner);
failures run as real `roboscope` processes, which must end with one `error:` line and a
non-zero status, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
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
from roboscope.envfile import read_env_file

from .conftest import create_postgres_database, require_service
from .servers import free_port, run_command, running_server

IDS = [revision.id for revision in revisions("sqlite://")]
HEAD = IDS[-1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own."""
    if request.param == "sqlite":
        path = tmp_path / "db" / "roboscope.db"
        path.parent.mkdir()
        path.touch()  # an empty database, as a new PostgreSQL one is
        yield f"sqlite+aiosqlite:///{path}"
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


# The database a command acts on: named, never made by mistake, chosen by an env file.

MISSING = [
    ["db", "current"],
    ["db", "history"],
    ["db", "downgrade", "-1", "--yes"],
    ["db", "upgrade"],
    ["tokens", "create", "ops"],
    ["tokens", "list"],
    ["tokens", "revoke", "ops"],
]


@pytest.mark.parametrize("command", MISSING, ids=[" ".join(c[:2]) for c in MISSING])
def test_a_database_that_does_not_exist_is_refused_and_not_made(
    tmp_path: Path, command: list[str]
) -> None:
    """Run away from the server's data dir, a command names the file it looked for and how
    to point it at the server's, and creates nothing (it used to make and migrate a new
    database, and `tokens create` printed a token the server did not know)."""
    data_dir = tmp_path / "elsewhere"
    problem = one_error(run_command(*command, data_dir=data_dir))
    assert problem.startswith(f"database {data_dir / 'roboscope.db'} does not exist: ")
    assert "--env-file FILE, ROBOSCOPE_DATA_DIR or ROBOSCOPE_DATABASE_URL" in problem
    assert not data_dir.exists()


def test_a_missing_database_named_by_url_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "named.db"
    env = {"ROBOSCOPE_DATABASE_URL": f"sqlite:///{path}"}
    problem = one_error(run_command("tokens", "list", data_dir=tmp_path / "data", env=env))
    assert problem == (
        f"database {path} (ROBOSCOPE_DATABASE_URL) does not exist; "
        "run `roboscope db upgrade --create-database` to make it"
    )
    assert not path.exists()


def test_create_database_makes_a_new_one_when_asked(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    made = run_command("tokens", "create", "ops", "--create-database", data_dir=data_dir)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("rbs_")
    assert made.stderr.splitlines()[0] == f"database {data_dir / 'roboscope.db'}"
    assert current_of(f"sqlite+aiosqlite:///{data_dir / 'roboscope.db'}") == HEAD

    other = tmp_path / "other.db"
    env = {"ROBOSCOPE_DATABASE_URL": f"sqlite:///{other}"}
    upgraded = run_command("db", "upgrade", "--create-database", data_dir=data_dir, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database {other}: created, at {HEAD} (head)\n"
    again = run_command("db", "upgrade", data_dir=data_dir, env=env)
    assert again.stdout == f"database {other}: already at {HEAD} (head)\n"


def write_env_file(path: Path, **variables: str) -> Path:
    lines = ["# the server's settings, as systemd and docker read them", ""]
    lines += [f"{name}={value}" for name, value in variables.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_token_made_with_the_server_s_env_file_works_on_that_server(tmp_path: Path) -> None:
    """The documented flow, from another directory: the env file the server runs with names
    its database, so the token is made there, and the server accepts it."""
    server_dir = tmp_path / "srv"
    settings = {"ROBOSCOPE_DATA_DIR": str(server_dir), "ROBOSCOPE_AUTH": "required"}
    if redis_url := os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        settings["ROBOSCOPE_REDIS_URL"] = redis_url
    env_file = write_env_file(tmp_path / "roboscope.env", **settings)
    with running_server(server_dir, env=settings) as server:
        # Elsewhere, with another data dir in the environment: the file's settings win.
        made = run_command(
            "--env-file", str(env_file), "tokens", "create", "ops", "--scope", "admin",
            data_dir=tmp_path / "elsewhere",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert made.stderr.splitlines()[0] == f"database {server_dir / 'roboscope.db'}"
        secret = made.stdout.strip()
        answer = httpx.get(f"{server.api}/whoami", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["token"]["name"], answer.json()["scope"]) == ("ops", "admin")
        # After the command works too, and `db` commands read the same file.
        listed = run_command(
            "tokens", "list", "--json", "--env-file", str(env_file), data_dir=tmp_path / "x"
        )
        assert [token["name"] for token in json.loads(listed.stdout)] == ["ops"]
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "x").exists()


def test_a_bad_env_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "absent.env"
    result = run_command("--env-file", str(missing), "db", "current", data_dir=tmp_path)
    assert one_error(result, status=2) == f"--env-file: {missing}: no such file or directory"
    bad = tmp_path / "bad.env"
    bad.write_text("ROBOSCOPE_AUTH=required\nexport ROBOSCOPE_DATA_DIR /srv\n")
    result = run_command("db", "current", "--env-file", str(bad), data_dir=tmp_path)
    assert one_error(result, status=2) == (f"--env-file: {bad}, line 2: not VARIABLE=value")


def test_env_file_values_are_read_as_systemd_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "roboscope.env"
    path.write_text(
        "# comment\n; comment\n\nROBOSCOPE_AUTH=required\n  ROBOSCOPE_LOG_LEVEL = debug  \n"
        'ROBOSCOPE_CORS_ORIGINS="https://a.example,https://b.example"\nEMPTY=\nX=a=b\n'
    )
    assert read_env_file(path) == {
        "ROBOSCOPE_AUTH": "required",
        "ROBOSCOPE_LOG_LEVEL": "debug",
        "ROBOSCOPE_CORS_ORIGINS": "https://a.example,https://b.example",
        "EMPTY": "",
        "X": "a=b",
    }


# Beside a running server on SQLite: the commands wait for its write lock, as it does.

HELD = 8.0
"""Seconds a writer holds the lock: longer than the 5 s the SQLite driver waits by default
(what the migration and schema engines used), well inside the server's 20 s."""


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(
            os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd")
        )
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open files")
def test_a_migration_beside_a_writer_waits_for_its_lock(tmp_path: Path) -> None:
    """`db upgrade` on a SQLite file another process is writing: it waits for the write
    lock instead of failing with "database is locked" after the driver's default 5 s."""
    path = tmp_path / "busy.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, IDS[-2])
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a server's write transaction, held
        env = {"ROBOSCOPE_DATABASE_URL": url}
        migrating = subprocess.Popen(
            [sys.executable, "-m", "roboscope", "db", "upgrade"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("ROBOSCOPE_")}, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _has_open(migrating.pid, path) and migrating.poll() is None:
            assert time.monotonic() < deadline, "the command never opened the database"
            time.sleep(0.02)
        # The lock stays taken for longer than a default busy timeout from here on.
        time.sleep(HELD)
        writer.execute("COMMIT")
        out, err = migrating.communicate(timeout=60)
    finally:
        writer.close()
    assert migrating.returncode == 0, err
    assert out == f"database {path}: upgraded from {IDS[-2]} to {HEAD} (head)\n"
