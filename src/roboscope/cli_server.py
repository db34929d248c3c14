"""Server-side commands: `roboscope serve` and `roboscope tokens …` (the `db` commands and
what they share with these are in `cli_database.py`).

They import the server, the database layer and Alembic inside the command bodies, so the
client commands (which share the `roboscope` entry point) start without loading any of it.

Configuration mistakes end here as one `error:` line per problem, all at once (exit 2),
never a traceback.
"""

from __future__ import annotations

import atexit
import errno
import ipaddress
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import typer

from . import cli_globals
from .cli_database import (
    CREATE_OPTION,
    UPGRADE,
    ensure_schema,
    fail,
    load_settings,
    reported,
    require_server_extra,
    with_database,
)
from .cli_globals import TYPER
from .cli_output import print_table

serve_app = typer.Typer(**TYPER)


@serve_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, help="TCP port (0 to 65535; 0: any free one)."),
    workers: int = typer.Option(1, help="Worker processes (at least 1)."),
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
    require_server_extra("serve")
    import uvicorn

    from . import __version__
    from .logs import LOG_LEVELS, logging_config, resolve_format
    from .settings import mask_url

    # Checked here rather than by the option parser, which stops at the first mistake.
    mistakes = []
    if log_level is not None and log_level.lower() not in LOG_LEVELS:
        mistakes.append(f"--log-level ({log_level}): use one of {', '.join(LOG_LEVELS)}")
    if workers < 1:
        mistakes.append(f"--workers ({workers}): at least 1")
    if not 0 <= port <= 65535:
        mistakes.append(f"--port ({port}): use 0 to 65535")
    unusable = None if not 0 <= port <= 65535 else _address_problem(host, port)
    if unusable is not None and unusable[1] == 2:
        mistakes.append(unusable[0])
    settings = load_settings(*mistakes)
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
    if unusable is not None:  # a port that is taken
        fail(*unusable)
    level = (log_level or settings.log_level).lower()
    if settings.database_url is None or settings.redis_url is None:
        _prepare_data_dir(settings.data_dir)
    # Before anything imports prometheus_client (the database and Redis layers count their
    # errors): it picks its multi-process mode once, at import, in every worker too.
    metrics_dir = _prepare_metrics_dir(settings.data_dir)
    os.environ[_MULTIPROCESS_VARIABLE] = str(metrics_dir)
    if settings.auth == "required":
        _refuse_a_signing_problem(settings)

    from .realtime import EmbeddedRedis
    from .server.http import HttpLimits, protocol_factory

    reported(ensure_schema)(settings, create=settings.database_url is None, down_is_fatal=False)
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
            fail(f"the embedded Redis cannot start: {error}")
        redis_description = f"redis embedded ({embedded.url})"
    shown_host = f"[{host}]" if ":" in host else host
    auth = "auth required" if settings.auth == "required" else "auth off (open access)"
    typer.echo(
        f"roboscope {__version__}: {auth}, database {mask_url(settings.resolved_database_url)}, "
        f"{redis_description}, data dir {settings.data_dir.resolve()}, "
        f"docs http://{shown_host}:{port}/api/v1/docs"
    )
    limits = HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        header_timeout=settings.http_header_timeout_seconds,
    )
    log_format = resolve_format(settings.log_format)
    status = 0
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
    except SystemExit as stop:  # SIGTERM (below), or uvicorn's own failure to start
        status = stop.code if isinstance(stop.code, int) else 1
    except KeyboardInterrupt:  # Ctrl-C: uvicorn stopped gracefully, then re-raised it
        status = 130
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    _leave(status)


def _refuse_a_signing_problem(settings: Any) -> None:
    """With auth required: no key to sign stream tokens with, or not the key of the other
    hosts, is one `error:` line (exit 2) before anything starts."""
    import asyncio

    from .services.stream_tokens import signing_problem

    problem = asyncio.run(signing_problem(settings))
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)


def _address_problem(host: str, port: int) -> tuple[str, int] | None:
    """Why the server could not listen on `host:port`, as uvicorn binds it, with the exit
    status: 2 for an address this machine does not have (a configuration mistake), 1 for a
    port that is taken (it may be free again at the next try). uvicorn itself says it only
    after starting the app, as a log record, and exits with status 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with socket.socket(family=family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as error:
        return f"--host ({host}): {error.strerror or 'not a known name or address'}", 2
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return f"{shown}: address already in use (another server?); choose another --port", 1
        if error.errno == errno.EADDRNOTAVAIL:
            return f"--host ({host}): not an address of this machine", 2
        if error.errno == errno.EACCES:
            return f"--port ({port}): permission denied (ports below 1024 need privileges)", 2
        return f"cannot listen on {shown}: {(error.strerror or str(error)).lower()}", 1
    return None


def _prepare_data_dir(data_dir: Path) -> None:
    from .files import private_dir

    try:
        private_dir(data_dir)
    except OSError as error:
        reason = error.strerror or error.__class__.__name__
        fail(f"ROBOSCOPE_DATA_DIR ({data_dir}): cannot be created: {reason}", code=2)


_MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # (roboscope.metrics imports the client)


def _prepare_metrics_dir(data_dir: Path) -> Path:
    """An empty private folder where this server's processes share their metrics:
    `DATA_DIR/metrics/<pid>` (several servers may share a data dir), with the folders of
    servers that are gone removed. A data dir that cannot hold it gets a temporary one."""
    from .files import private_dir
    from .processes import pid_alive  # (not via roboscope.realtime: it imports the metrics)

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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _leave(status: int) -> NoReturn:
    """End the process once the server, its workers and its embedded Redis have stopped.

    What is left is the interpreter's teardown of a loaded server (freeing the objects of
    every module), which takes a second or more on its own: a stop (systemd, `docker stop`,
    a rolling restart) would wait for nothing. The exit hooks libraries registered still
    run (logging's flush, an OpenTelemetry exporter's last batch); then the process ends.
    """
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


tokens_app = typer.Typer(
    **TYPER,
    help="API tokens for ROBOSCOPE_AUTH=required (on the server's database).",
    no_args_is_help=True,
)
_SCOPES = ("read", "write", "admin")


def _token_command(
    command: str, work: Callable[[Any, Any, Any], Awaitable[Any]], *, create: bool = False
) -> Any:
    """Run `work(database, identity, settings)` on the server's database as its operator
    (admin), with the settings the command was given.

    The database is named on stderr once the work is done; it must exist (unless `create`)
    and be at the current schema (the embedded default is migrated first, as `serve` does).
    Every failure is one `error:` line.
    """
    require_server_extra(command)
    from .services.access import anonymous

    settings = load_settings()
    remedy = f"add {CREATE_OPTION} to make it" if command == "tokens create" else UPGRADE
    database = ensure_schema(settings, create=create, remedy=remedy)
    done = with_database(lambda db: work(db, anonymous("cli"), settings), settings, database)
    typer.echo(f"database {database.description}", err=True)
    return done


@tokens_app.command("create")
@reported
def tokens_create(
    name: str = typer.Argument(..., help="A unique name: letters, digits and ._@-"),
    user: str | None = typer.Option(
        None, "--user", help="The user the token acts as in presence and locks."
    ),
    scope: str = typer.Option("write", "--scope", help="read, write or admin."),
    expires: str | None = typer.Option(
        None, "--expires", help="A lifetime: 30d, 12h, 90m (default: until revoked)."
    ),
    create_database: bool = typer.Option(
        False, CREATE_OPTION, help="Make the SQLite database if it does not exist yet."
    ),
) -> None:
    """Create a token and print its secret, once (only a hash of it is stored)."""
    from pydantic import ValidationError

    from .wire.tokens import ApiTokenCreate

    if scope not in _SCOPES:
        fail(f"--scope: {scope!r} is not one of read, write, admin", code=2)
    if expires is not None:
        require_server_extra("tokens create")
        from .errors import InvalidInput
        from .services.tokens import parse_duration

        try:
            parse_duration(expires)
        except InvalidInput as error:
            fail(f"--expires: {error.message}", code=2)
    try:
        body = ApiTokenCreate(name=name, user_id=user, scope=scope, expires_in=expires)
    except ValidationError as error:
        problem = error.errors()[0]
        field = {"name": "NAME", "user_id": "--user"}.get(str(problem["loc"][0]), "NAME")
        fail(f"{field}: {problem['msg']}", code=2)

    async def create(database: Any, operator: Any, settings: Any) -> Any:
        from .services import tokens

        return await tokens.create(database, operator, body)

    created = _token_command("tokens create", create, create=create_database)
    if cli_globals.current().json:
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
@reported
def tokens_list() -> None:
    """Every token (never a secret), with its state: active, expired or revoked."""

    async def listing(database: Any, operator: Any, settings: Any) -> Any:
        from .services import tokens

        return await tokens.list_tokens(database, operator)

    found = _token_command("tokens list", listing)
    if cli_globals.current().json:
        typer.echo(json.dumps([token.model_dump(mode="json") for token in found], indent=2))
        return
    print_table(
        ["NAME", "ID", "USER", "SCOPE", "STATE", "CREATED", "EXPIRES"],
        [[t.name, t.id, t.user_id, t.scope, _state(t), t.created_at, t.expires_at] for t in found],
    )


@tokens_app.command("revoke")
@reported
def tokens_revoke(
    name_or_id: str = typer.Argument(..., metavar="NAME_OR_ID", help="The token's name or id."),
) -> None:
    """Revoke a token: every server process confirms, then requests with it get 401 and its
    live streams are ended, everywhere. Exit status 1 if a process did not confirm."""

    async def revoke(database: Any, operator: Any, settings: Any) -> Any:
        from .services import tokens

        return await tokens.revoke_from_outside(database, settings, operator, name_or_id)

    revoked = _token_command("tokens revoke", revoke)
    spread = revoked.propagation
    plural = "" if spread.processes == 1 else "es"
    if not spread.processes:
        told = "no server process is running" if spread.confirmed else "no server was told"
    elif spread.confirmed:
        told = f"confirmed by {spread.processes} server process{plural}"
    else:
        heard = spread.processes - len(spread.unconfirmed)
        told = f"confirmed by {heard} of {spread.processes} server process{plural}"
    typer.echo(f"revoked token {revoked.name!r} ({revoked.id}); {told}")
    if not spread.confirmed:
        missing = f" ({', '.join(spread.unconfirmed)})" if spread.unconfirmed else ""
        typer.echo(
            f"error: {spread.problem}{missing}: the token is revoked in the database, and a "
            "server that was not told refuses it within its ROBOSCOPE_AUTH_RECHECK_SECONDS; "
            "run this command again to tell them again",
            err=True,
        )
        raise typer.Exit(1)
