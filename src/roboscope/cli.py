"""The `roboscope` command: serve, migrate, and talk to a server."""

from __future__ import annotations

import os
import signal

import typer
from sqlalchemy.exc import DBAPIError

from .db.migrate import schema_is_current, upgrade
from .realtime import EmbeddedRedis
from .settings import Settings

app = typer.Typer(help="Roboscope API server and tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API.

    With the default SQLite database the schema is migrated first. With no
    ROBOSCOPE_REDIS_URL an embedded Redis is started here, once, before any worker, and
    stopped when the server stops (also after SIGTERM); one left over from a crash is reused.
    """
    import uvicorn

    settings = Settings()
    if settings.database_url is None:
        upgrade(settings.resolved_database_url)
    else:
        _require_current_schema(settings.database_url)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    # would kill this process before `finally` stops the embedded Redis.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    embedded = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir)
        # Workers are separate processes that build their own Settings from the environment.
        os.environ["ROBOSCOPE_REDIS_URL"] = embedded.start()
    try:
        uvicorn.run(
            "roboscope.server.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            proxy_headers=True,
        )
    finally:
        if embedded is not None:
            embedded.stop()


def _require_current_schema(database_url: str) -> None:
    """Refuse to serve an outdated schema (every request would fail); a database that is
    merely down is not fatal: requests get 503 until it is back."""
    try:
        current = schema_is_current(database_url)
    except (DBAPIError, OSError, TimeoutError) as error:
        typer.echo(f"warning: cannot check the database schema now ({error.__class__.__name__})")
        return
    if not current:
        typer.echo(
            "error: the database schema is not up to date; run `roboscope db upgrade` first",
            err=True,
        )
        raise typer.Exit(1)


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database named by ROBOSCOPE_DATABASE_URL (or the embedded one)."""
    settings = Settings()
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")


# Client commands over the SDK (src/roboscope/cli_client.py).
from .cli_client import (  # noqa: E402
    health_app,
    lock_app,
    markers_app,
    presence_app,
    sessions_app,
    spaces_app,
)

app.add_typer(spaces_app, name="spaces")
app.add_typer(sessions_app, name="sessions")
app.add_typer(markers_app, name="markers")
app.add_typer(presence_app, name="presence")
app.add_typer(lock_app, name="lock")
app.add_typer(health_app, name="health")
