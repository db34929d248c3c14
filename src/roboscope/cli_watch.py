"""`roboscope watch`: a work session's live events, one line each, as they happen."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, NoReturn
from uuid import UUID

import typer
from pydantic import BaseModel

from . import cli_globals
from .cli_globals import TYPER
from .cli_output import as_json
from .client import Client, ClientError, Event, ReloadRequired

watch_app = typer.Typer(**TYPER)

SessionId = Annotated[
    UUID, typer.Argument(metavar="SESSION_ID", help="The work session's id.", show_default=False)
]


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def describe(event: Event) -> str:
    """One readable line about an event (without its time)."""
    data = event.data
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if not isinstance(data, Mapping):
        return json.dumps(data)
    if event.kind in ("marker", "work_session", "anchor"):
        what = {"marker": "marker", "work_session": "session", "anchor": "anchor"}[event.kind]
        parts = [f"{what} {data.get('id')}"]
        if "version" in data:
            parts.append(f"v{data['version']}")
        for name in ("label", "status", "run", "local_z"):
            if data.get(name) is not None:
                parts.append(f"{name}={data[name]}")
        return " ".join(parts)
    if event.kind == "details":
        return f"details of marker {data.get('marker_id')}"
    if event.name == "presence.snapshot":
        return "present: " + (", ".join(map(str, data.get("users", []))) or "nobody")
    if event.kind == "lock":
        if event.name == "lock.snapshot" and not data.get("locked"):
            return "unlocked"
        owner = data.get("owner") or "someone"
        until = f" until {data['expires_at']}" if data.get("expires_at") else ""
        return f"held by {owner}{until} (fence {data.get('fence')})"
    if event.kind == "presence":
        device = f" on {data['device_id']}" if data.get("device_id") else ""
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"{data.get('user_id')}{device}{reason}"
    return json.dumps(data, ensure_ascii=False)


watch_app = typer.Typer(**TYPER)


@watch_app.command()
def watch(
    session_id: SessionId,
    since: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Start after this change cursor (e.g. a list's X-Roboscope-Cursor); "
            "default: only what happens from now on.",
        ),
    ] = None,
) -> None:
    """Follow a work session live: a line per change, presence and lock event.

    With --json, one JSON object per line. The stream is resumed by itself after a drop.
    Exits 1 when the
    server cannot be reached at first or the stream cannot be resumed (the session is gone,
    or the cursor is older than the server keeps), 0 when the session is deleted."""
    options = cli_globals.current()
    json_out = options.json
    try:
        with Client(options.url, token=options.token) as client:
            for event in client.events(session_id, since=since, wait_for_server=False):
                if json_out:
                    line = {"event": event.name, "data": as_json(event.data)}
                    if event.cursor is not None:  # data changes only
                        line["cursor"] = event.cursor
                    typer.echo(json.dumps(line, ensure_ascii=False))
                else:
                    stamp = datetime.now().strftime("%H:%M:%S")
                    cursor = f"#{event.cursor}" if event.cursor is not None else ""
                    typer.echo(f"{stamp} {event.name:<22} {cursor:>8}  {describe(event)}")
    except ReloadRequired as error:
        fail(f"{error} (start again without --since, or with a newer cursor)")
    except ClientError as error:
        fail(str(error))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
