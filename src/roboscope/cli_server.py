"""Server-side commands: `roboscope serve`, `roboscope db …` and `roboscope tokens …`.

They import the server, the database layer and Alembic inside the command bodies, so the
client commands (which share the `roboscope` entry point) start without loading any of it.

Configuration mistakes end here as one `error:` line per problem (exit 2), never a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    log_level: str | None = typer.Option(
        None, help="Least severe records logged (default: ROBOSCOPE_LOG_LEVEL, or info)."
    ),
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
    from .logs import LOG_LEVELS, logging_config, resolve_format
    from .settings import mask_url

    settings = _load_settings()
    level = (log_level or settings.log_level).lower()
    if level not in LOG_LEVELS:
        typer.echo(
            f"error: --log-level ({log_level}): use one of {', '.join(LOG_LEVELS)}", err=True
        )
        raise typer.Exit(2)
    if settings.database_url is None or settings.redis_url is None:
        _prepare_data_dir(settings.data_dir)
    # Before anything imports prometheus_client (the database and Redis layers count their
    # errors): it picks its multi-process mode once, at import, in every worker too.
    metrics_dir = _prepare_metrics_dir(settings.data_dir)
    os.environ[_MULTIPROCESS_VARIABLE] = str(metrics_dir)

    from .db.migrate import upgrade
    from .realtime import EmbeddedRedis
    from .server.http import HttpLimits, protocol_factory

    if settings.redis_url is None and (workers > 1 or not _is_loopback(host)):
        typer.echo(
            "warning: no ROBOSCOPE_REDIS_URL: presence and locks live in an embedded Redis "
            "local to this machine; set ROBOSCOPE_REDIS_URL to share them between machines",
            err=True,
        )
    if settings.auth == "off" and not _is_loopback(host):
        typer.echo(
            f"warning: ROBOSCOPE_AUTH is off and the server listens on {host}: anyone who can "
            "reach this port can read, change and delete every space; set "
            "ROBOSCOPE_AUTH=required and create tokens (`roboscope tokens create`, docs/auth.md)",
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
    endpoint = settings.redis_endpoint
    redis_description = (
        f"redis {mask_url(endpoint.url)} ({endpoint.describe()})" if endpoint else "redis"
    )
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
    log_format = resolve_format(settings.log_format)
    try:
        uvicorn.run(
            "roboscope.server.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=level,
            # Every process logs alike; one line per request comes from the app (with the
            # route, request id and caller), so uvicorn's own access log is off.
            log_config=logging_config(log_format, level),
            access_log=False,
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
        shutil.rmtree(metrics_dir, ignore_errors=True)


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


_MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # (roboscope.metrics imports the client)


def _prepare_metrics_dir(data_dir: Path) -> Path:
    """An empty private folder where this server's processes share their metrics:
    `DATA_DIR/metrics/<pid>` (several servers may share a data dir), with the folders of
    servers that are gone removed. A data dir that cannot hold it gets a temporary one."""
    from .files import private_dir
    from .realtime.embedded import pid_alive

    root = data_dir / "metrics"
    try:
        private_dir(data_dir)
        private_dir(root)
        for child in root.iterdir():
            if child.name.isdigit() and not pid_alive(int(child.name)):
                shutil.rmtree(child, ignore_errors=True)
        mine = root / str(os.getpid())
        shutil.rmtree(mine, ignore_errors=True)
        private_dir(mine)
        return mine
    except OSError as error:
        folder = Path(tempfile.mkdtemp(prefix="roboscope-metrics-"))
        typer.echo(
            f"warning: {root} cannot be used for metrics ({error.strerror or error}); "
            f"using {folder}",
            err=True,
        )
        return folder

    return True


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


tokens_app = typer.Typer(
    help="API tokens for ROBOSCOPE_AUTH=required (on the server's database).",
    no_args_is_help=True,
)
_SCOPES = ("read", "write", "admin")


def _token_command(command: str, work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Run `work(database, identity)` on the server's database as its operator (admin).

    The default SQLite database is migrated first, as `serve` does; any other must be at
    the current schema. Every failure is one `error:` line.
    """
    _require_server_extra(command)
    import asyncio

    from sqlalchemy.exc import DBAPIError

    from .db.engine import Database, describe_failure
    from .db.migrate import schema_state, upgrade
    from .errors import RoboscopeError
    from .services.access import anonymous

    settings = _load_settings()
    url = settings.resolved_database_url
    try:
        if settings.database_url is None:
            _prepare_data_dir(settings.data_dir)
            _refuse_a_newer_schema(schema_state(url))
            upgrade(url)
        elif not (state := schema_state(url)).is_current:
            _refuse_a_newer_schema(state)
            typer.echo(
                "error: the database schema is not up to date; run `roboscope db upgrade` first",
                err=True,
            )
            raise typer.Exit(1)
    except (DBAPIError, OSError, TimeoutError) as error:
        typer.echo(f"error: {describe_failure(url, error)}", err=True)
        raise typer.Exit(1) from None

    async def run() -> Any:
        database = Database(url, timeout=settings.database_timeout_seconds)
        try:
            return await work(database, anonymous("cli"))
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except RoboscopeError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2 if error.status == 422 else 1) from None


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Argument(..., help="A unique name: letters, digits and ._@-"),
    user: str | None = typer.Option(
        None, "--user", help="The user the token acts as in presence and locks."
    ),
    scope: str = typer.Option("write", "--scope", help="read, write or admin."),
    expires: str | None = typer.Option(
        None, "--expires", help="A lifetime: 30d, 12h, 90m (default: until revoked)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Create a token and print its secret, once (only a hash of it is stored)."""
    from pydantic import ValidationError

    from .wire.tokens import ApiTokenCreate

    if scope not in _SCOPES:
        typer.echo(f"error: --scope: {scope!r} is not one of read, write, admin", err=True)
        raise typer.Exit(2)
    if expires is not None:
        _require_server_extra("tokens create")
        from .errors import InvalidInput
        from .services.tokens import parse_duration

        try:
            parse_duration(expires)
        except InvalidInput as error:
            typer.echo(f"error: --expires: {error.message}", err=True)
            raise typer.Exit(2) from None
    try:
        body = ApiTokenCreate(name=name, user_id=user, scope=scope, expires_in=expires)
    except ValidationError as error:
        problem = error.errors()[0]
        field = {"name": "NAME", "user_id": "--user"}.get(str(problem["loc"][0]), "NAME")
        typer.echo(f"error: {field}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None

    async def create(database: Any, operator: Any) -> Any:
        from .services import tokens

        return await tokens.create(database, operator, body)

    created = _token_command("tokens create", create)
    if json_out:
        typer.echo(created.model_dump_json(indent=2))
        return
    typer.echo(created.token)
    expiry = (
        "never expires"
        if created.expires_at is None
        else f"expires {created.expires_at:%Y-%m-%dT%H:%M:%SZ}"
    )
    typer.echo(
        f"token {created.name!r}: scope {created.scope}, user {created.user_id or '(none)'}, "
        f"{expiry}; shown once, store it now",
        err=True,
    )


def _state(token: Any) -> str:
    from datetime import UTC, datetime

    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        return "expired"
    return "active"


@tokens_app.command("list")
def tokens_list(
    json_out: bool = typer.Option(False, "--json", help="Print the tokens as JSON."),
) -> None:
    """Every token (never a secret), with its state: active, expired or revoked."""

    async def listing(database: Any, operator: Any) -> Any:
        from .services import tokens

        return await tokens.list_tokens(database, operator)

    found = _token_command("tokens list", listing)
    if json_out:
        typer.echo(json.dumps([token.model_dump(mode="json") for token in found], indent=2))
        return
    from .cli_client import print_table

    print_table(
        ["NAME", "ID", "USER", "SCOPE", "STATE", "CREATED", "EXPIRES"],
        [[t.name, t.id, t.user_id, t.scope, _state(t), t.created_at, t.expires_at] for t in found],
    )


@tokens_app.command("revoke")
def tokens_revoke(
    name_or_id: str = typer.Argument(..., metavar="NAME_OR_ID", help="The token's name or id."),
) -> None:
    """Revoke a token: requests with it get 401 at once, on every server process."""

    async def revoke(database: Any, operator: Any) -> Any:
        from .services import tokens

        return await tokens.revoke(database, operator, name_or_id)

    revoked = _token_command("tokens revoke", revoke)
    typer.echo(f"revoked token {revoked.name!r} ({revoked.id})")
