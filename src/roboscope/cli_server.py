"""Server-side commands: `roboscope serve` and `roboscope db …`.

They import the server, the database layer and Alembic inside the command bodies, so the
client commands (which share the `roboscope` entry point) start without loading any of it.
"""

from __future__ import annotations

import os
import signal

import typer

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


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

    from .db.migrate import upgrade
    from .realtime import EmbeddedRedis
    from .settings import Settings

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
    from sqlalchemy.exc import DBAPIError

    from .db.migrate import schema_is_current

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
    from .db.migrate import upgrade
    from .settings import Settings

    settings = Settings()
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")
