"""Client commands over the blocking SDK: `roboscope spaces|sessions|markers|presence|lock|
health`.

Output is pretty JSON on stdout (the wire format, so it pipes into jq); failures print one
line on stderr and exit with status 1. The server comes from `--url` or `ROBOSCOPE_URL`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from pydantic import BaseModel

from .client import DEFAULT_URL, Client, ClientError
from .wire import (
    MarkerCreate,
    SessionType,
    SpaceCreate,
    SpaceUpdate,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)

T = TypeVar("T")

Url = Annotated[
    str,
    typer.Option("--url", envvar="ROBOSCOPE_URL", help="Server URL ('/api/v1' is appended)."),
]
LockToken = Annotated[
    str | None, typer.Option("--lock-token", help="Send as X-Lock-Token (a fenced write).")
]


def _to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    return value


def _call(url: str, action: Callable[[Client], T]) -> T:
    """Run one SDK action; an SDK error becomes a line on stderr and exit status 1."""
    try:
        with Client(url) as client:
            return action(client)
    except ClientError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


def _show(url: str, action: Callable[[Client], Any]) -> None:
    typer.echo(json.dumps(_to_json(_call(url, action)), indent=2, ensure_ascii=False))


def _point(text: str) -> list[float]:
    try:
        point = [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not x,y,z") from None
    if len(point) != 3:
        raise typer.BadParameter(f"{text!r} is not x,y,z")
    return point


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise typer.BadParameter("not JSON") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object")
    return value


def _fields(**values: Any) -> dict[str, Any]:
    """Only the options that were given, so a PATCH leaves the others unchanged."""
    return {name: value for name, value in values.items() if value is not None}


# spaces

spaces_app = typer.Typer(help="Spaces.", no_args_is_help=True)


@spaces_app.command("list")
def spaces_list(
    url: Url = DEFAULT_URL,
    key: Annotated[str | None, typer.Option(help="Only the space with this key.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include inactive spaces.")] = False,
) -> None:
    _show(url, lambda c: c.list_spaces(key=key, include_inactive=all_))


@spaces_app.command("create")
def spaces_create(
    key: Annotated[str, typer.Option(help="Unique key, e.g. hall-a.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    description: Annotated[str | None, typer.Option()] = None,
    meta: Annotated[str | None, typer.Option(help="A JSON object.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    body = SpaceCreate.model_validate(
        _fields(key=key, name=name, description=description, meta=_json_object(meta))
    )
    _show(url, lambda c: c.create_space(body))


@spaces_app.command("get")
def spaces_get(space_id: UUID, url: Url = DEFAULT_URL) -> None:
    _show(url, lambda c: c.get_space(space_id))


@spaces_app.command("update")
def spaces_update(
    space_id: UUID,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    body = SpaceUpdate.model_validate(_fields(name=name, description=description, is_active=active))
    _show(url, lambda c: c.update_space(space_id, body))


@spaces_app.command("delete")
def spaces_delete(space_id: UUID, url: Url = DEFAULT_URL) -> None:
    """Deletes the space with its work sessions and everything in them."""
    _call(url, lambda c: c.delete_space(space_id))


# work sessions

sessions_app = typer.Typer(help="Work sessions.", no_args_is_help=True)


@sessions_app.command("list")
def sessions_list(
    url: Url = DEFAULT_URL,
    space: Annotated[UUID | None, typer.Option(help="Only sessions in this space.")] = None,
    status: Annotated[WorkSessionStatus | None, typer.Option()] = None,
    session_type: Annotated[SessionType | None, typer.Option("--type")] = None,
) -> None:
    _show(
        url,
        lambda c: c.list_work_sessions(space_id=space, status=status, session_type=session_type),
    )


@sessions_app.command("create")
def sessions_create(
    space: Annotated[UUID, typer.Option(help="The space's id.")],
    session_type: Annotated[SessionType, typer.Option("--type")] = SessionType.inspection,
    status: Annotated[WorkSessionStatus, typer.Option()] = WorkSessionStatus.draft,
    url: Url = DEFAULT_URL,
) -> None:
    body = WorkSessionCreate(space_id=space, session_type=session_type, status=status)
    _show(url, lambda c: c.create_work_session(body))


@sessions_app.command("get")
def sessions_get(session_id: UUID, url: Url = DEFAULT_URL) -> None:
    _show(url, lambda c: c.get_work_session(session_id))


@sessions_app.command("update")
def sessions_update(
    session_id: UUID,
    status: Annotated[WorkSessionStatus | None, typer.Option()] = None,
    session_type: Annotated[SessionType | None, typer.Option("--type")] = None,
    version: Annotated[
        int | None, typer.Option(help="Expected version (409 if stale); omit to retry.")
    ] = None,
    lock_token: LockToken = None,
    url: Url = DEFAULT_URL,
) -> None:
    """With --version, a stale version fails (409); without it, the change is applied to the
    current version, retried on conflict."""
    body = WorkSessionUpdate.model_validate(_fields(status=status, session_type=session_type))
    if version is not None:
        versioned = body.model_copy(update={"version": version})
        _show(url, lambda c: c.update_work_session(session_id, versioned, lock_token=lock_token))
    else:
        _show(
            url,
            lambda c: c.update_work_session_with_retry(
                session_id, lambda _: body, lock_token=lock_token
            ),
        )


@sessions_app.command("delete")
def sessions_delete(session_id: UUID, lock_token: LockToken = None, url: Url = DEFAULT_URL) -> None:
    """Deletes the session with its markers, their details, and its anchors."""
    _call(url, lambda c: c.delete_work_session(session_id, lock_token=lock_token))


# markers

markers_app = typer.Typer(help="AR markers.", no_args_is_help=True)


@markers_app.command("list")
def markers_list(
    url: Url = DEFAULT_URL,
    session: Annotated[UUID | None, typer.Option(help="Only this work session's markers.")] = None,
) -> None:
    _show(url, lambda c: c.list_markers(work_session_id=session))


@markers_app.command("create")
def markers_create(
    session: Annotated[UUID, typer.Option(help="The work session's id.")],
    p1: Annotated[str, typer.Option(help="x,y,z")],
    p2: Annotated[str, typer.Option(help="x,y,z")],
    p3: Annotated[str, typer.Option(help="x,y,z")],
    p4: Annotated[str, typer.Option(help="x,y,z")],
    label: Annotated[str | None, typer.Option()] = None,
    color: Annotated[str | None, typer.Option()] = None,
    lock_token: LockToken = None,
    url: Url = DEFAULT_URL,
) -> None:
    body = MarkerCreate.model_validate(
        _fields(
            work_session_id=session,
            p1=_point(p1),
            p2=_point(p2),
            p3=_point(p3),
            p4=_point(p4),
            label=label,
            color=color,
        )
    )
    _show(url, lambda c: c.create_marker(body, lock_token=lock_token))


@markers_app.command("get")
def markers_get(marker_id: UUID, url: Url = DEFAULT_URL) -> None:
    _show(url, lambda c: c.get_marker(marker_id))


@markers_app.command("delete")
def markers_delete(marker_id: UUID, lock_token: LockToken = None, url: Url = DEFAULT_URL) -> None:
    _call(url, lambda c: c.delete_marker(marker_id, lock_token=lock_token))


# presence

presence_app = typer.Typer(help="Who is in a work session.", no_args_is_help=True)


@presence_app.command("list")
def presence_list(session_id: UUID, url: Url = DEFAULT_URL) -> None:
    _show(url, lambda c: c.list_presence(session_id))


@presence_app.command("beat")
def presence_beat(
    session_id: UUID,
    user: Annotated[str, typer.Option(help="Your user id (kept verbatim).")],
    device: Annotated[str | None, typer.Option()] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """One heartbeat: present for the server's presence TTL (30 s by default)."""
    _show(url, lambda c: c.heartbeat(session_id, user, device_id=device))


@presence_app.command("leave")
def presence_leave(
    session_id: UUID,
    user: str,
    device: Annotated[str | None, typer.Option()] = None,
    url: Url = DEFAULT_URL,
) -> None:
    _show(url, lambda c: c.leave(session_id, user, device_id=device))


# locks

lock_app = typer.Typer(help="Edit locks on work sessions.", no_args_is_help=True)


@lock_app.command("status")
def lock_status(session_id: UUID, url: Url = DEFAULT_URL) -> None:
    _show(url, lambda c: c.lock_status(session_id))


@lock_app.command("acquire")
def lock_acquire(
    session_id: UUID,
    ttl: Annotated[int, typer.Option(help="Seconds until it expires unless extended.")] = 30,
    owner: Annotated[str | None, typer.Option(help="Shown to others in `lock status`.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Prints the grant (with the token); exits 1 when someone else holds the lock."""
    grant = _call(url, lambda c: c.acquire_lock(session_id, ttl, owner=owner))
    typer.echo(json.dumps(_to_json(grant), indent=2))
    if not grant.acquired:
        typer.echo(f"error: work session {session_id} is locked by another holder", err=True)
        raise typer.Exit(1)


@lock_app.command("extend")
def lock_extend(
    session_id: UUID,
    token: str,
    ttl: Annotated[int, typer.Option()] = 30,
    url: Url = DEFAULT_URL,
) -> None:
    _show(url, lambda c: c.extend_lock(session_id, token, ttl))


@lock_app.command("release")
def lock_release(session_id: UUID, token: str, url: Url = DEFAULT_URL) -> None:
    _show(url, lambda c: c.release_lock(session_id, token))


# health

health_app = typer.Typer(help="The server's health report.")


@health_app.callback(invoke_without_command=True)
def health(url: Url = DEFAULT_URL) -> None:
    """Whether the server, its database and Redis are up (exit 1 if it is unhealthy)."""
    _show(url, lambda c: c.health())
