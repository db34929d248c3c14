"""The database a server-side command acts on, and the `db` commands (schema migrations).

Every server-side command (`serve`, `db …`, `tokens …`) works on the database its settings
name (`--env-file`, ROBOSCOPE_DATABASE_URL, else the SQLite file in ROBOSCOPE_DATA_DIR), says
which one, and refuses one that does not exist unless asked to make it: run from the wrong
directory, the embedded default would otherwise be a new, empty file in `./.roboscope`.

The schema policy is `ensure_schema`, for every command that reads or writes data. The
database layer reports failures as domain errors (`DatabaseUnavailable`, `InvalidInput`);
`reported` turns them into one `error:` line. SQLAlchemy and Alembic are imported inside the
functions, so the client commands and `--help` never load them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer

from .cli_globals import TYPER

if TYPE_CHECKING:
    from .db.migrate import SchemaState
    from .settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

# What the server needs beyond the SDK (the `server` extra), by import name.
_SERVER_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "redis", "pydantic_settings")

CREATE_OPTION = "--create-database"
UPGRADE = f"run `roboscope db upgrade {CREATE_OPTION}` to make it"


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def require_server_extra(command: str) -> None:
    """A base install (the SDK and client commands) has no server: say so in one line."""
    from importlib.util import find_spec

    missing = [name for name in _SERVER_MODULES if find_spec(name) is None]
    if missing:
        fail(
            f"`roboscope {command}` needs the server, which this install lacks "
            f"({', '.join(missing)}): pip install 'roboscope[server]'"
        )


def load_settings(*more_problems: str) -> Settings:
    """The settings, or one `error:` line per problem, all at once (with `more_problems`,
    the command's own), and exit 2. An unknown ROBOSCOPE_* name is one of the problems."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from .settings import Settings, every_problem, unknown_variables

    lines = [*unknown_variables(os.environ), *more_problems]
    settings = None
    try:
        settings = Settings()
    except ValidationError as error:
        lines = every_problem(error) + lines
    except SettingsError as error:
        lines = [str(error), *lines]
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    if lines or settings is None:
        raise typer.Exit(2)
    return settings


def reported(command: Callable[P, R]) -> Callable[P, R]:
    """A command whose failures below the CLI (a database that cannot be reached or does
    not exist, an unknown revision, a name that is taken) end as one `error:` line."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from .errors import DatabaseUnavailable, RoboscopeError

        try:
            return command(*args, **kwargs)
        except DatabaseUnavailable as error:
            fail(error.problem)
        except RoboscopeError as error:
            fail(error.message)

    return run


@dataclass(frozen=True, slots=True)
class Target:
    """The database a command acts on."""

    url: str
    description: str
    embedded: bool
    """The SQLite file of the data dir (no ROBOSCOPE_DATABASE_URL): `serve` migrates it."""


def target(settings: Settings) -> Target:
    from .db.engine import describe

    url = settings.resolved_database_url
    return Target(url, describe(url), embedded=settings.database_url is None)


def refuse_missing(settings: Settings, database: Target, remedy: str) -> NoReturn:
    """One line for a database that is not there, saying where the command looked."""
    if database.embedded:
        data_dir = settings.data_dir.resolve()
        fail(
            f"database {database.description} does not exist: no server has used the data "
            f"dir {data_dir}; name the server's settings with --env-file FILE, "
            f"ROBOSCOPE_DATA_DIR or ROBOSCOPE_DATABASE_URL, or {remedy}"
        )
    fail(f"database {database.description} (ROBOSCOPE_DATABASE_URL) does not exist; {remedy}")


def refuse_a_newer_schema(state: SchemaState) -> None:
    """A database migrated by a newer version (after a rollback of the code, say): this
    version cannot know whether its schema still fits, nor migrate it."""
    if not state.known:
        fail(
            f"the database is at revision {state.current}, which this version does not "
            f"know (its newest is {state.head}): use the version that migrated it, or undo "
            f"its migrations with that version first (`roboscope db downgrade {state.head} "
            "--yes`)"
        )


def ensure_schema(
    settings: Settings, *, create: bool = False, remedy: str = UPGRADE, down_is_fatal: bool = True
) -> Target:
    """The schema policy of every command that works with the data (`serve`, `tokens`):

    - a database that does not exist is refused, unless `create` (then made and migrated);
    - one migrated by a newer version is refused;
    - the embedded default is migrated here, as `serve` does at every start;
    - any other must be at this version's head (`roboscope db upgrade`, run by the operator).

    A database that cannot be reached is fatal, unless not `down_is_fatal` (`serve` starts
    anyway and answers 503 until it is back): then a warning.
    """
    from .db.migrate import schema_state, upgrade
    from .errors import DatabaseUnavailable

    database = target(settings)
    try:
        state = schema_state(database.url)
    except DatabaseUnavailable as error:
        if down_is_fatal:
            raise
        typer.echo(f"warning: {error.problem}; requests get 503 until it is fixed", err=True)
        return database
    if not state.exists and not create:
        refuse_missing(settings, database, remedy)
    refuse_a_newer_schema(state)
    if database.embedded or not state.exists:
        upgrade(database.url)
    elif not state.is_current:
        fail("the database schema is not up to date; run `roboscope db upgrade` first")
    return database


def existing_schema(settings: Settings, remedy: str = UPGRADE) -> tuple[Target, SchemaState]:
    """The database of a `db` command and where it stands; refused when it does not exist."""
    from .db.migrate import schema_state

    database = target(settings)
    state = schema_state(database.url)
    if not state.exists:
        refuse_missing(settings, database, remedy)
    return database, state


db_app = typer.Typer(**TYPER, help="Database schema migrations.", no_args_is_help=True)


@db_app.command("upgrade")
@reported
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision."),
    create_database: bool = typer.Option(
        False, CREATE_OPTION, help="Make the SQLite database if it does not exist yet."
    ),
) -> None:
    """Migrate the database (ROBOSCOPE_DATABASE_URL, or the data dir's SQLite file)."""
    require_server_extra("db upgrade")
    from .db.migrate import schema_state, upgrade

    settings = load_settings()
    database = target(settings)
    before = schema_state(database.url)
    if not before.exists and not create_database:
        refuse_missing(settings, database, f"add {CREATE_OPTION} to make it")
    refuse_a_newer_schema(before)
    upgrade(database.url, revision)
    after = schema_state(database.url).current
    head = " (head)" if after == before.head else ""
    if not before.exists:
        typer.echo(f"database {database.description}: created, at {after}{head}")
    elif after == before.current:
        typer.echo(f"database {database.description}: already at {after or 'base'}{head}")
    else:
        was = before.current or "empty"
        typer.echo(f"database {database.description}: upgraded from {was} to {after}{head}")


@db_app.command("current")
@reported
def db_current(
    check: bool = typer.Option(
        False, "--check", help="Exit with status 1 unless the database is at the head."
    ),
) -> None:
    """Print the database's revision and whether it is the head (what `serve` needs)."""
    require_server_extra("db current")
    database, state = existing_schema(load_settings())
    if state.current is None:
        status = f"empty (no revision; the head is {state.head}): run `roboscope db upgrade`"
    elif not state.known:
        status = (
            f"{state.current} (unknown to this version, whose head is {state.head}: "
            "a newer version migrated it)"
        )
    elif state.is_current:
        status = f"{state.current} (head)"
    else:
        status = f"{state.current} (behind the head {state.head}): run `roboscope db upgrade`"
    typer.echo(f"database {database.description}: {status}")
    if check and not state.is_current:
        raise typer.Exit(1)


@db_app.command("history")
@reported
def db_history() -> None:
    """List the revisions this version knows, oldest first, marking the database's."""
    require_server_extra("db history")
    database, state = existing_schema(load_settings())
    for revision in state.revisions:
        marks = [
            mark
            for mark, applies in (
                ("current", revision.id == state.current),
                ("head", revision.id == state.head),
            )
            if applies
        ]
        suffix = f" ({', '.join(marks)})" if marks else ""
        typer.echo(f"{revision.id}  {revision.message}{suffix}")
    if state.current is None:
        where = "empty (no revision applied)"
    elif not state.known:
        where = f"at {state.current}, unknown to this version (a newer version migrated it)"
    else:
        where = f"at {state.current}"
    typer.echo(f"database {database.description}: {where}", err=True)


@db_app.command(
    "downgrade",
    # "-1" is a target, not an option.
    context_settings={"ignore_unknown_options": True},
)
@reported
def db_downgrade(
    target_revision: str = typer.Argument(
        ...,
        metavar="TARGET",
        help="Where to go: -1 (one revision down, -N for N), a revision id "
        "(see `roboscope db history`), or base (nothing left).",
        show_default=False,
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Confirm: the tables and columns of the revisions undone are dropped."
    ),
) -> None:
    """Undo migrations down to TARGET (drops the data they hold: back up first).

    Run it with the version that made the revisions (an older version does not know how to
    undo them), before installing the older version.
    """
    require_server_extra("db downgrade")
    from .db.migrate import downgrade, downgrade_target

    settings = load_settings()
    database = target(settings)
    if not yes:
        fail(
            f"a downgrade drops the tables and columns of the revisions it undoes, with "
            f"their data, in database {database.description}: back it up, then add --yes",
            code=2,
        )
    database, state = existing_schema(settings)
    resolved = downgrade_target(state, target_revision)
    if resolved == (state.current or "base"):
        typer.echo(f"database {database.description}: already at {resolved}")
        return
    downgrade(database.url, resolved)
    typer.echo(f"database {database.description}: at {resolved} (was {state.current})")


def with_database(work: Callable[[Any], Any], settings: Settings, database: Target) -> Any:
    """Run `await work(db)` on an open `Database` of `database`, closed after.

    The server's log records (an outage noticed on the way, say) are not shown: a command
    reports its own outcome, in one line."""
    import asyncio
    import logging

    from .db.engine import Database

    logging.getLogger("roboscope").addHandler(logging.NullHandler())

    async def run() -> Any:
        db = Database(database.url, timeout=settings.database_timeout_seconds)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())
