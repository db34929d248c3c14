"""The `roboscope` command: serve, migrate, and talk to a server.

Server commands live in `cli_server.py`, client commands in `cli_client.py`; this module only
assembles them under one entry point.
"""

from __future__ import annotations

import typer

from .cli_client import (
    health_app,
    lock_app,
    markers_app,
    presence_app,
    sessions_app,
    spaces_app,
)
from .cli_server import db_app, serve

app = typer.Typer(help="Roboscope API server and tools.", no_args_is_help=True)
app.command()(serve)
app.add_typer(db_app, name="db")
app.add_typer(spaces_app, name="spaces")
app.add_typer(sessions_app, name="sessions")
app.add_typer(markers_app, name="markers")
app.add_typer(presence_app, name="presence")
app.add_typer(lock_app, name="lock")
app.add_typer(health_app, name="health")
