"""Server-side commands: `roboscope serve` and `roboscope db …`.

They import the server, the database layer and Alembic inside the command bodies, so the
client commands (which share the `roboscope` entry point) start without loading any of it.

Configuration mistakes end here as one `error:` line per problem (exit 2), never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from .db.migrate import SchemaState
    from .settings import Settings

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)

# What the server needs beyond the SDK (the `server` extra), by import name.
_SERVER_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "redis", "pydantic_settings")


def _require_server_extra(command: str) -> None:
    """A base install (the SDK and client commands) has no server: say so in one line."""
    from importlib.util import find_spec

    missing = [name for name in _SERVER_MODULES if find_spec(name) is None]
    if missing:
        typer.echo(
            f"error: `roboscope {command}` needs the server, which this install lacks "
            f"({', '.join(missing)}): pip install 'roboscope[server]'",
            err=True,
        )
        raise typer.Exit(1)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API.

    With the default SQLite database the schema is migrated first. With no
    ROBOSCOPE_REDIS_URL an embedded Redis is started here, once, before any worker (or the
    one another server on the same data dir runs is shared), and released when the server
    stops (also after SIGTERM): the last server using it stops it.
    """
    _require_server_extra("serve")
    import uvicorn

    from . import __version__
    from .db.migrate import upgrade
    from .realtime import EmbeddedRedis
    from .server.http import HttpLimits, protocol_factory
    from .settings import mask_url

    settings = _load_settings()
    if settings.database_url is None or settings.redis_url is None:
        _prepare_data_dir(settings.data_dir)
    if settings.redis_url is None and (workers > 1 or not _is_loopback(host)):
        typer.echo(
            "warning: no ROBOSCOPE_REDIS_URL: presence and locks live in an embedded Redis "
            "local to this machine; set ROBOSCOPE_REDIS_URL to share them between machines",
            err=True,
        )
    if settings.database_url is None:
        _refuse_a_newer_schema(_schema_state(settings.resolved_database_url))
        upgrade(settings.resolved_database_url)
    else:
        _require_current_schema(settings.database_url)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    # would kill this process before `finally` releases the embedded Redis.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    embedded = None
    redis_description = f"redis {mask_url(settings.redis_url or '')}"
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir)
        try:
            # Workers are separate processes that build their own Settings from the environment.
            os.environ["ROBOSCOPE_REDIS_URL"] = embedded.start()
        except (RuntimeError, OSError) as error:
            typer.echo(f"error: the embedded Redis cannot start: {error}", err=True)
            raise typer.Exit(1) from None
        redis_description = f"redis embedded ({embedded.url})"
    shown_host = f"[{host}]" if ":" in host else host
    typer.echo(
        f"roboscope {__version__}: database {mask_url(settings.resolved_database_url)}, "
        f"{redis_description}, data dir {settings.data_dir.resolve()}, "
        f"docs http://{shown_host}:{port}/api/v1/docs"
    )
    limits = HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        header_timeout=settings.http_header_timeout_seconds,
    )
    try:
        uvicorn.run(
            "roboscope.server.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            http=protocol_factory(limits),
            timeout_keep_alive=settings.http_keep_alive_seconds,
            limit_concurrency=settings.http_max_connections,
            h11_max_incomplete_event_size=settings.http_max_header_bytes,
        )
    finally:
        if embedded is not None:
            embedded.stop()


def _load_settings() -> Settings:
    """The settings, or one `error:` line per problem and exit 2; warnings for unknown names."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from .settings import Settings, problems, unknown_variables

    for warning in unknown_variables(os.environ):
        typer.echo(f"warning: {warning}", err=True)
    try:
        return Settings()
    except ValidationError as error:
        for line in problems(error):
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _prepare_data_dir(data_dir: Path) -> None:
    from .files import private_dir

    try:
        private_dir(data_dir)
    except OSError as error:
        reason = error.strerror or error.__class__.__name__
        typer.echo(f"error: ROBOSCOPE_DATA_DIR ({data_dir}): cannot be created: {reason}", err=True)
        raise typer.Exit(2) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_current_schema(database_url: str) -> None:
    """Refuse to serve an outdated schema (every request would fail); a database that is
    merely down (or not there yet) is not fatal: requests get 503 until it is back."""
    from sqlalchemy.exc import DBAPIError

    from .db.engine import describe_failure
    from .db.migrate import schema_state

    try:
        state = schema_state(database_url)
    except (DBAPIError, OSError, TimeoutError) as error:
        problem = describe_failure(database_url, error)
        typer.echo(f"warning: {problem}; requests get 503 until it is fixed", err=True)
        return
    _refuse_a_newer_schema(state)
    if not state.is_current:
        typer.echo(
            "error: the database schema is not up to date; run `roboscope db upgrade` first",
            err=True,
        )
        raise typer.Exit(1)


def _refuse_a_newer_schema(state: SchemaState) -> None:
    """A database migrated by a newer version (after a rollback of the code, say): this
    version cannot know whether its schema still fits, nor migrate it."""
    if not state.known:
        typer.echo(
            f"error: the database is at revision {state.current}, which this version does not "
            f"know (its newest is {state.head}): use the version that migrated it, or undo "
            f"its migrations with that version first (`roboscope db downgrade {state.head} "
            "--yes`)",
            err=True,
        )
        raise typer.Exit(1)


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database named by ROBOSCOPE_DATABASE_URL (or the embedded one)."""
    _require_server_extra("db upgrade")
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from .db.engine import describe_failure
    from .db.migrate import upgrade

    settings = _load_settings()
    _refuse_a_newer_schema(_schema_state(settings.resolved_database_url))
    try:
        upgrade(settings.resolved_database_url, revision)
    except (DBAPIError, OSError, TimeoutError) as error:
        typer.echo(f"error: {describe_failure(settings.resolved_database_url, error)}", err=True)
        raise typer.Exit(1) from None
    except CommandError as error:  # an unknown target, or a database a newer version migrated
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current(
    check: bool = typer.Option(
        False, "--check", help="Exit with status 1 unless the database is at the head."
    ),
) -> None:
    """Print the database's revision and whether it is the head (what `serve` needs)."""
    _require_server_extra("db current")
    from .db.engine import describe

    settings = _load_settings()
    url = settings.resolved_database_url
    state = _schema_state(url)
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
    typer.echo(f"database {describe(url)}: {status}")
    if check and not state.is_current:
        raise typer.Exit(1)


@db_app.command("history")
def db_history() -> None:
    """List the revisions this version knows, oldest first, marking the database's."""
    _require_server_extra("db history")
    from .db.engine import describe

    settings = _load_settings()
    url = settings.resolved_database_url
    state = _schema_state(url)
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
        typer.echo(f"database {describe(url)}: empty (no revision applied)")
    elif not state.known:
        typer.echo(
            f"database {describe(url)}: at {state.current}, unknown to this version "
            "(a newer version migrated it)"
        )


@db_app.command(
    "downgrade",
    # "-1" is a target, not an option.
    context_settings={"ignore_unknown_options": True},
)
def db_downgrade(
    target: str = typer.Argument(
        ...,
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
    _require_server_extra("db downgrade")
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from .db.engine import describe, describe_failure
    from .db.migrate import DowngradeRefused, downgrade, downgrade_target

    settings = _load_settings()
    url = settings.resolved_database_url
    if not yes:
        typer.echo(
            f"error: a downgrade drops the tables and columns of the revisions it undoes, "
            f"with their data, in database {describe(url)}: back it up, then add --yes",
            err=True,
        )
        raise typer.Exit(2)
    state = _schema_state(url)
    try:
        resolved = downgrade_target(state, target)
    except DowngradeRefused as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if resolved == (state.current or "base"):
        typer.echo(f"database {describe(url)}: already at {resolved}")
        return
    try:
        downgrade(url, resolved)
    except (DBAPIError, OSError, TimeoutError) as error:
        typer.echo(f"error: {describe_failure(url, error)}", err=True)
        raise typer.Exit(1) from None
    except CommandError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database {describe(url)}: at {resolved} (was {state.current})")


def _schema_state(url: str) -> SchemaState:
    """Where the database stands, or one `error:` line (exit 1) when it cannot be reached."""
    from sqlalchemy.exc import DBAPIError

    from .db.engine import describe_failure
    from .db.migrate import schema_state

    try:
        return schema_state(url)
    except (DBAPIError, OSError, TimeoutError) as error:
        typer.echo(f"error: {describe_failure(url, error)}", err=True)
        raise typer.Exit(1) from None
