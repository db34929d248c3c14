"""Client commands over the blocking SDK: `roboscope health|whoami|spaces|sessions|markers|
details|anchors|laser-guide|reference-sets|presence|lock|watch`.

- Output is for people by default: lists are tables, a single object is `field  value`
  lines. `--json` (before or after the command) prints the wire JSON instead, for scripts.
  List commands show at most `--limit` rows (100 by default; `--all` for every one), with a
  note on stderr when more were left.
- Input the CLI can refuse before sending (a point with NaN, an empty key or user id, a file
  that is not JSON) is a usage error: one line `error: --p1: …` naming the option, exit 2.
- Every failure after sending exits 1 with one line on stderr: an error answer, an
  unreachable server, a lock that was not acquired, extended or released, an unhealthy
  health report.
- The server (`--url`, ROBOSCOPE_URL) and the API token (`--token`, ROBOSCOPE_TOKEN) are
  global options: `cli_globals.current()` is the one place that resolves them.

This module imports the SDK only (httpx, pydantic, typer): never the server, the database
layer, Redis or Alembic.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import typer
from pydantic import BaseModel, ValidationError

from . import cli_globals
from .cli_globals import TYPER
from .cli_output import as_json, cell, print_json, print_object, print_table
from .client import (
    Client,
    ClientError,
    Event,
    Page,
    ReloadRequired,
    Unauthorized,
    Unavailable,
)
from .wire import (
    Anchor,
    AnchorUpdate,
    AnchorUpsert,
    Health,
    LaserGuidePut,
    Marker,
    MarkerBulkCreate,
    MarkerCreate,
    MarkerDetailsPut,
    MarkerUpdate,
    ReferenceSet,
    ReferenceSetCreate,
    ReferenceSetUpdate,
    SessionType,
    Space,
    SpaceCreate,
    SpaceUpdate,
    WorkSession,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)
from .wire.presence import PresenceList

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Input types: parsed by click (so a bad value is a usage error that names its option).


@dataclass(frozen=True, slots=True)
class Xyz:
    """A point given as `x,y,z`."""

    values: list[float]


@dataclass(frozen=True, slots=True)
class JsonObject:
    """A JSON object given inline, e.g. `'{"floor": 2}'`."""

    value: dict[str, Any]


def parse_point(text: str) -> Xyz:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not three numbers x,y,z") from None
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise typer.BadParameter(f"{text!r} is not three finite numbers x,y,z")
    return Xyz(values)


def parse_object(text: str) -> JsonObject:
    try:
        value = json.loads(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not JSON") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object, e.g. '{\"floor\": 2}'")
    return JsonObject(value)


def nonempty(text: str) -> str:
    if not text:
        raise typer.BadParameter("must not be empty")
    return text


# Options and arguments shared by several commands.

DEFAULT_LIMIT = 100

ListLimit = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=1,
        help=f"Show at most this many (default {DEFAULT_LIMIT}; a note on stderr says when "
        "more were left).",
        show_default=False,
    ),
]
ListAll = Annotated[bool, typer.Option("--all", help="Show every one, however many.")]
LockToken = Annotated[
    str | None,
    typer.Option("--lock-token", help="Send as X-Lock-Token: the write needs the session's lock."),
]
Meta = Annotated[
    JsonObject | None,
    typer.Option(parser=parse_object, metavar="JSON", help="A JSON object (replaces meta)."),
]
CustomProps = Annotated[
    JsonObject | None,
    typer.Option(parser=parse_object, metavar="JSON", help="A JSON object of app properties."),
]
Version = Annotated[
    int | None,
    typer.Option(
        help="Expected current version: a stale one fails (409). Omit to apply the "
        "change to the current version, retried on conflict."
    ),
]
SpaceId = Annotated[
    UUID, typer.Argument(metavar="SPACE_ID", help="The space's id.", show_default=False)
]
SessionId = Annotated[
    UUID, typer.Argument(metavar="SESSION_ID", help="The work session's id.", show_default=False)
]
MarkerId = Annotated[
    UUID, typer.Argument(metavar="MARKER_ID", help="The marker's id.", show_default=False)
]
AnchorId = Annotated[
    UUID, typer.Argument(metavar="ANCHOR_ID", help="The anchor's id.", show_default=False)
]
SetId = Annotated[
    UUID, typer.Argument(metavar="SET_ID", help="The reference set's id.", show_default=False)
]
File = Annotated[
    str,
    typer.Argument(
        metavar="FILE", help="A JSON file, or - for standard input.", show_default=False
    ),
]


def point(help_text: str) -> Any:
    return typer.Option(parser=parse_point, metavar="X,Y,Z", help=help_text)


# The server, errors and output.

FIELD_OPTIONS = {
    "space_id": "--space",
    "session_type": "--type",
    "work_session_id": "--session",
    "session_id": "--session",
    "user_id": "--user",
    "device_id": "--device",
    "ttl_seconds": "--ttl",
    "token": "TOKEN",
    "world_position": "--position",
    "is_active": "--active",
}
"""Wire fields whose CLI option is not `--` plus the field name with `-` for `_`."""


def connect() -> Client:
    """The SDK client for a command: the chosen server, with the API token if one is given."""
    options = cli_globals.current()
    return Client(options.url, token=options.token)


def refuse(error: ValidationError, hint: str | None = None) -> NoReturn:
    """Input the wire models refused before sending: a usage error naming the option (or
    `hint`, e.g. the FILE, followed by the path inside it)."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    path = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".")
    if hint is None:
        field = loc[0] if loc else ""
        hint = FIELD_OPTIONS.get(field, "--" + field.replace("_", "-"))
        path = ".".join(loc[1:])
    more = error.error_count() - 1
    message = f"{path}: {first['msg']}" if path else first["msg"]
    raise typer.BadParameter(
        message + (f" (and {more} more)" if more else ""), param_hint=hint
    ) from None


def build(model: type[M], hint: str | None = None, **fields: Any) -> M:
    """A wire body from the options that were given (None means "not given")."""
    values = {name: value for name, value in fields.items() if value is not None}
    try:
        return model.model_validate(values)
    except ValidationError as error:
        refuse(error, hint)


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def call(action: Callable[[Client], T]) -> T:
    """Run one SDK action: an SDK error is one line on stderr and exit 1; input the SDK
    refused before sending is a usage error (exit 2)."""
    try:
        with connect() as client:
            return action(client)
    except Unauthorized as error:
        fail(f"{error} (give an API token: --token or ROBOSCOPE_TOKEN)")
    except ClientError as error:
        fail(str(error))
    except ValidationError as error:
        refuse(error)
    except ValueError as error:  # e.g. an empty user id for a URL path
        raise typer.BadParameter(str(error)) from None


def show(action: Callable[[Client], BaseModel]) -> None:
    """Print one object: `field  value` lines, or its wire JSON with --json."""
    answer = call(action)
    if cli_globals.current().json:
        print_json(answer)
    else:
        print_object(answer)


PAGE_SIZE = 1000

Pager = Callable[[Client, int, "str | None"], Page[M]]


def listed(
    action: Callable[[Client], Sequence[M]] | None,
    pager: Pager[M] | None,
    limit: int | None,
    every: bool,
) -> list[M]:
    """The items a list command shows: at most `limit` (default `DEFAULT_LIMIT`) or all
    with `every`, page by page from a paged list (`pager`), else cut from the whole list;
    a note on stderr when more were left."""
    if every and limit is not None:
        raise typer.BadParameter("give --limit or --all, not both", param_hint="--all")
    cap = None if every else (limit or DEFAULT_LIMIT)

    def gather(client: Client) -> tuple[list[M], bool]:
        if pager is None:
            assert action is not None
            whole = list(action(client))
            return (whole, False) if cap is None else (whole[:cap], len(whole) > cap)
        items: list[M] = []
        cursor = None
        while True:
            size = PAGE_SIZE if cap is None else min(PAGE_SIZE, cap - len(items))
            page = pager(client, size, cursor)
            items += page.items
            cursor = page.next_cursor
            if cursor is None:
                return items, False
            if cap is not None and len(items) >= cap:
                return items[:cap], True

    items, more = call(gather)
    if more:
        typer.echo(f"showing the first {cap}: --limit N or --all for more", err=True)
    return items


def show_list(
    items: Sequence[M], headers: Sequence[str], row: Callable[[M], Sequence[Any]]
) -> None:
    if cli_globals.current().json:
        print_json(list(items))
    else:
        print_table(headers, [row(item) for item in items])


def read_json(path: str, hint: str = "FILE") -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as error:
        raise typer.BadParameter(error.strerror or str(error), param_hint=hint) from None
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint=hint) from None


def _points(**corners: Xyz | None) -> dict[str, Any]:
    return {name: None if xyz is None else xyz.values for name, xyz in corners.items()}


def _object(value: JsonObject | None) -> dict[str, Any] | None:
    return None if value is None else value.value


# spaces

spaces_app = typer.Typer(
    **TYPER, help="Spaces: the physical places markers live in.", no_args_is_help=True
)

SPACE_COLUMNS = ("ID", "KEY", "NAME", "ACTIVE", "UPDATED")


def space_row(space: Space) -> Sequence[Any]:
    return (space.id, space.key, space.name, space.is_active, space.updated_at)


UrlOption = Annotated[
    str | None, typer.Option(metavar="URL", help="A URL; '' means none (clears it in update).")
]


@spaces_app.command("list")
def spaces_list(
    key: Annotated[str | None, typer.Option(help="Only the space with this key.")] = None,
    include_inactive: Annotated[
        bool, typer.Option("--include-inactive", help="Include inactive spaces.")
    ] = False,
    limit: ListLimit = None,
    every: ListAll = False,
) -> None:
    """List spaces (active ones unless --include-inactive)."""

    def pages(c: Client, size: int, cursor: str | None) -> Page[Space]:
        return c.list_spaces_page(
            key=key, include_inactive=include_inactive, limit=size, cursor=cursor
        )

    show_list(listed(None, pages, limit, every), SPACE_COLUMNS, space_row)


@spaces_app.command("create")
def spaces_create(
    key: Annotated[str, typer.Option(help="Unique key, e.g. hall-a.", show_default=False)],
    name: Annotated[str, typer.Option(help="Display name.", show_default=False)],
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    meta: Meta = None,
    model_glb_url: UrlOption = None,
    model_usdc_url: UrlOption = None,
    preview_url: UrlOption = None,
    scan_url: UrlOption = None,
    ml_model_url: UrlOption = None,
) -> None:
    """Create a space; a key that exists already fails (409)."""
    body = build(
        SpaceCreate,
        key=key,
        name=name,
        description=description,
        meta=_object(meta),
        model_glb_url=model_glb_url,
        model_usdc_url=model_usdc_url,
        preview_url=preview_url,
        scan_url=scan_url,
        ml_model_url=ml_model_url,
    )
    show(lambda c: c.create_space(body))


@spaces_app.command("get")
def spaces_get(space_id: SpaceId) -> None:
    """Show one space."""
    show(lambda c: c.get_space(space_id))


@spaces_app.command("update")
def spaces_update(
    space_id: SpaceId,
    key: Annotated[str | None, typer.Option(help="New unique key.")] = None,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    meta: Meta = None,
    model_glb_url: UrlOption = None,
    model_usdc_url: UrlOption = None,
    preview_url: UrlOption = None,
    scan_url: UrlOption = None,
    ml_model_url: UrlOption = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Show or hide it in lists.", show_default=False),
    ] = None,
) -> None:
    """Change the options given; the others stay."""
    # A URL given as '' is sent as null, which clears it (the wire type says so).
    body = build(
        SpaceUpdate,
        key=key,
        name=name,
        description=description,
        meta=_object(meta),
        is_active=active,
        model_glb_url=model_glb_url,
        model_usdc_url=model_usdc_url,
        preview_url=preview_url,
        scan_url=scan_url,
        ml_model_url=ml_model_url,
    )
    show(lambda c: c.update_space(space_id, body))


@spaces_app.command("delete")
def spaces_delete(space_id: SpaceId) -> None:
    """Delete the space with its work sessions and everything in them."""
    call(lambda c: c.delete_space(space_id))


# work sessions

sessions_app = typer.Typer(**TYPER, help="Work sessions: one job in a space.", no_args_is_help=True)

SESSION_COLUMNS = ("ID", "SPACE", "TYPE", "STATUS", "VERSION", "UPDATED")


def session_row(session: WorkSession) -> Sequence[Any]:
    return (
        session.id,
        session.space_id,
        session.session_type,
        session.status,
        session.version,
        session.updated_at,
    )


@sessions_app.command("list")
def sessions_list(
    space: Annotated[UUID | None, typer.Option(help="Only sessions in this space.")] = None,
    status: Annotated[WorkSessionStatus | None, typer.Option(help="Only this status.")] = None,
    session_type: Annotated[
        SessionType | None, typer.Option("--type", help="Only this type.")
    ] = None,
    limit: ListLimit = None,
    every: ListAll = False,
) -> None:
    """List work sessions."""

    def pages(c: Client, size: int, cursor: str | None) -> Page[WorkSession]:
        return c.list_work_sessions_page(
            space_id=space, status=status, session_type=session_type, limit=size, cursor=cursor
        )

    show_list(listed(None, pages, limit, every), SESSION_COLUMNS, session_row)


@sessions_app.command("create")
def sessions_create(
    space: Annotated[UUID, typer.Option(help="The space's id.", show_default=False)],
    session_type: Annotated[
        SessionType, typer.Option("--type", help="What the session is for.")
    ] = SessionType.inspection,
    status: Annotated[WorkSessionStatus, typer.Option(help="Initial status.")] = (
        WorkSessionStatus.draft
    ),
    meta: Meta = None,
) -> None:
    """Create a work session in a space (version 0)."""
    body = build(
        WorkSessionCreate,
        space_id=space,
        session_type=session_type,
        status=status,
        meta=_object(meta),
    )
    show(lambda c: c.create_work_session(body))


@sessions_app.command("get")
def sessions_get(session_id: SessionId) -> None:
    """Show one work session."""
    show(lambda c: c.get_work_session(session_id))


@sessions_app.command("update")
def sessions_update(
    session_id: SessionId,
    status: Annotated[WorkSessionStatus | None, typer.Option(help="New status.")] = None,
    session_type: Annotated[SessionType | None, typer.Option("--type", help="New type.")] = None,
    space: Annotated[UUID | None, typer.Option(help="Move it to this space.")] = None,
    meta: Meta = None,
    version: Version = None,
    lock_token: LockToken = None,
) -> None:
    """Change the options given; with --version a stale version fails (409), without it the
    change is applied to the current version, retried on conflict."""
    body = build(
        WorkSessionUpdate,
        status=status,
        session_type=session_type,
        space_id=space,
        meta=_object(meta),
        version=version,
    )
    if version is not None:
        show(lambda c: c.update_work_session(session_id, body, lock_token=lock_token))
    else:
        show(
            lambda c: c.update_work_session_with_retry(
                session_id, lambda _: body, lock_token=lock_token
            ),
        )


@sessions_app.command("delete")
def sessions_delete(session_id: SessionId, lock_token: LockToken = None) -> None:
    """Delete the session with its markers, their details, and its anchors."""
    call(lambda c: c.delete_work_session(session_id, lock_token=lock_token))


# markers

markers_app = typer.Typer(
    **TYPER, help="AR markers: four corners in a work session.", no_args_is_help=True
)

MARKER_COLUMNS = ("ID", "LABEL", "VERSION", "P1", "P2", "P3", "P4", "DETAILS")


def marker_row(marker: Marker) -> Sequence[Any]:
    return (
        marker.id,
        marker.label,
        marker.version,
        marker.p1,
        marker.p2,
        marker.p3,
        marker.p4,
        marker.details is not None,
    )


@markers_app.command("list")
def markers_list(
    session: Annotated[UUID | None, typer.Option(help="Only this work session's markers.")] = None,
    limit: ListLimit = None,
    every: ListAll = False,
) -> None:
    """List markers."""

    def pages(c: Client, size: int, cursor: str | None) -> Page[Marker]:
        return c.list_markers_page(work_session_id=session, limit=size, cursor=cursor)

    show_list(listed(None, pages, limit, every), MARKER_COLUMNS, marker_row)


@markers_app.command("create")
def markers_create(
    session: Annotated[UUID, typer.Option(help="The work session's id.", show_default=False)],
    p1: Annotated[Xyz, point("First corner.")],
    p2: Annotated[Xyz, point("Second corner.")],
    p3: Annotated[Xyz, point("Third corner.")],
    p4: Annotated[Xyz, point("Fourth corner.")],
    label: Annotated[str | None, typer.Option(help="A label shown in the app.")] = None,
    color: Annotated[str | None, typer.Option(help="A color, e.g. #ff0000.")] = None,
    meta: Meta = None,
    custom_props: CustomProps = None,
    lock_token: LockToken = None,
) -> None:
    """Create one marker."""
    body = build(
        MarkerCreate,
        work_session_id=session,
        **_points(p1=p1, p2=p2, p3=p3, p4=p4),
        label=label,
        color=color,
        meta=_object(meta),
        custom_props=_object(custom_props),
    )
    show(lambda c: c.create_marker(body, lock_token=lock_token))


@markers_app.command("bulk")
def markers_bulk(
    file: File,
    session: Annotated[
        UUID | None,
        typer.Option(help="Work session for the markers in the file that name none."),
    ] = None,
    lock_token: LockToken = None,
) -> None:
    """Create many markers from a JSON file: a list of markers (or {"markers": [...]}), each
    as in `POST /markers`. All are created or none; they are listed in the file's order."""
    data = read_json(file)
    items = data.get("markers") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise typer.BadParameter("must be a JSON list of markers", param_hint="FILE")
    if session is not None:
        items = [
            {"work_session_id": str(session), **item} if isinstance(item, dict) else item
            for item in items
        ]
    body = build(MarkerBulkCreate, hint="FILE", markers=items)
    show_list(
        call(lambda c: c.create_markers(body.markers, lock_token=lock_token)),
        MARKER_COLUMNS,
        marker_row,
    )


@markers_app.command("get")
def markers_get(marker_id: MarkerId) -> None:
    """Show one marker."""
    show(lambda c: c.get_marker(marker_id))


@markers_app.command("update")
def markers_update(
    marker_id: MarkerId,
    p1: Annotated[Xyz | None, point("New first corner.")] = None,
    p2: Annotated[Xyz | None, point("New second corner.")] = None,
    p3: Annotated[Xyz | None, point("New third corner.")] = None,
    p4: Annotated[Xyz | None, point("New fourth corner.")] = None,
    label: Annotated[str | None, typer.Option(help="New label.")] = None,
    color: Annotated[str | None, typer.Option(help="New color.")] = None,
    meta: Meta = None,
    custom_props: CustomProps = None,
    version: Version = None,
    lock_token: LockToken = None,
) -> None:
    """Change the options given; with --version a stale version fails (409), without it the
    change is applied to the current version, retried on conflict."""
    body = build(
        MarkerUpdate,
        **_points(p1=p1, p2=p2, p3=p3, p4=p4),
        label=label,
        color=color,
        meta=_object(meta),
        custom_props=_object(custom_props),
        version=version,
    )
    if version is not None:
        show(lambda c: c.update_marker(marker_id, body, lock_token=lock_token))
    else:
        show(
            lambda c: c.update_marker_with_retry(marker_id, lambda _: body, lock_token=lock_token),
        )


@markers_app.command("delete")
def markers_delete(marker_id: MarkerId, lock_token: LockToken = None) -> None:
    """Delete a marker (and its details)."""
    call(lambda c: c.delete_marker(marker_id, lock_token=lock_token))


# marker details

details_app = typer.Typer(
    **TYPER,
    help="Marker details: a marker's footprint in its session's frame.",
    no_args_is_help=True,
)


@details_app.command("get")
def details_get(marker_id: MarkerId) -> None:
    """Show a marker's details (404 until calculated or stored)."""
    show(lambda c: c.get_marker_details(marker_id))


@details_app.command("calculate")
def details_calculate(marker_id: MarkerId) -> None:
    """Calculate (or recalculate) a marker's details from its corners."""
    show(lambda c: c.calculate_marker_details(marker_id))


@details_app.command("put")
def details_put(marker_id: MarkerId, file: File) -> None:
    """Store details as given in a JSON file (the body of `PUT /markers/{id}/details`)."""
    body = build(MarkerDetailsPut, hint="FILE", **_file_object(file))
    show(lambda c: c.put_marker_details(marker_id, body))


@details_app.command("delete")
def details_delete(marker_id: MarkerId) -> None:
    """Delete a marker's details."""
    call(lambda c: c.delete_marker_details(marker_id))


def _file_object(file: str) -> dict[str, Any]:
    data = read_json(file)
    if not isinstance(data, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="FILE")
    return data


# anchors

anchors_app = typer.Typer(
    **TYPER,
    help="Anchors: a world position per (work session, run, local z).",
    no_args_is_help=True,
)

ANCHOR_COLUMNS = ("ID", "SESSION", "RUN", "LOCAL Z", "POSITION", "UPDATED")


def anchor_row(anchor: Anchor) -> Sequence[Any]:
    return (
        anchor.id,
        anchor.session_id,
        anchor.run,
        anchor.local_z,
        anchor.world_position,
        anchor.updated_at,
    )


@anchors_app.command("list")
def anchors_list(
    session: Annotated[UUID | None, typer.Option(help="Only this work session's anchors.")] = None,
    limit: ListLimit = None,
    every: ListAll = False,
) -> None:
    """List anchors."""
    found = listed(lambda c: c.list_anchors(session_id=session), None, limit, every)
    show_list(found, ANCHOR_COLUMNS, anchor_row)


@anchors_app.command("upsert")
def anchors_upsert(
    session: Annotated[UUID, typer.Option(help="The work session's id.", show_default=False)],
    run: Annotated[int, typer.Option(help="The run number.", show_default=False)],
    local_z: Annotated[float, typer.Option(help="The local z (matched exactly).")],
    position: Annotated[Xyz, point("World position.")],
) -> None:
    """Create the anchor of (session, run, local z), or move it if it exists."""
    body = build(
        AnchorUpsert,
        session_id=session,
        run=run,
        local_z=local_z,
        world_position=position.values,
    )
    show(lambda c: c.upsert_anchor(body))


@anchors_app.command("get")
def anchors_get(anchor_id: AnchorId) -> None:
    """Show one anchor."""
    show(lambda c: c.get_anchor(anchor_id))


@anchors_app.command("update")
def anchors_update(
    anchor_id: AnchorId,
    position: Annotated[Xyz, point("New world position.")],
) -> None:
    """Move an anchor."""
    body = build(AnchorUpdate, world_position=position.values)
    show(lambda c: c.update_anchor(anchor_id, body))


@anchors_app.command("delete")
def anchors_delete(anchor_id: AnchorId) -> None:
    """Delete an anchor."""
    call(lambda c: c.delete_anchor(anchor_id))


# laser guides

guide_app = typer.Typer(
    **TYPER, help="Laser guides: one grid of guide lines per space.", no_args_is_help=True
)


@guide_app.command("get")
def guide_get(space_id: SpaceId) -> None:
    """Show a space's laser guide (404 when it has none)."""
    show(lambda c: c.get_laser_guide(space_id))


@guide_app.command("put")
def guide_put(space_id: SpaceId, file: File) -> None:
    """Store a space's laser guide from a JSON file: {"grid": [{"x", "z",
    "segment_length"}, ...], "meta": {...}}."""
    body = build(LaserGuidePut, hint="FILE", **_file_object(file))
    show(lambda c: c.put_laser_guide(space_id, body))


@guide_app.command("delete")
def guide_delete(space_id: SpaceId) -> None:
    """Delete a space's laser guide."""
    call(lambda c: c.delete_laser_guide(space_id))


# reference sets

sets_app = typer.Typer(
    **TYPER,
    help="Reference sets: named sets of reference markers in a space.",
    no_args_is_help=True,
)

SET_COLUMNS = ("ID", "NAME", "MARKERS", "VERSION", "UPDATED")


def set_row(reference_set: ReferenceSet) -> Sequence[Any]:
    return (
        reference_set.id,
        reference_set.name,
        len(reference_set.markers),
        reference_set.version,
        reference_set.updated_at,
    )


Markers = Annotated[
    str | None,
    typer.Option(
        "--markers",
        metavar="FILE",
        help="A JSON file (or -) with the list of markers, each {p1..p4, label, color, id}.",
    ),
]


def _markers_file(markers: str | None) -> Any:
    return None if markers is None else read_json(markers, hint="--markers")


@sets_app.command("list")
def sets_list(space_id: SpaceId, limit: ListLimit = None, every: ListAll = False) -> None:
    """List a space's reference sets."""
    found = listed(lambda c: c.list_reference_sets(space_id), None, limit, every)
    show_list(found, SET_COLUMNS, set_row)


@sets_app.command("create")
def sets_create(
    space_id: SpaceId,
    name: Annotated[str, typer.Option(help="The set's name.", show_default=False)],
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    markers: Markers = None,
) -> None:
    """Create a reference set in a space."""
    body = build(
        ReferenceSetCreate, name=name, description=description, markers=_markers_file(markers)
    )
    show(lambda c: c.create_reference_set(space_id, body))


@sets_app.command("get")
def sets_get(set_id: SetId) -> None:
    """Show one reference set with its markers."""
    show(lambda c: c.get_reference_set(set_id))


@sets_app.command("update")
def sets_update(
    set_id: SetId,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    markers: Markers = None,
    version: Annotated[
        int | None, typer.Option(help="Expected current version: a stale one fails (409).")
    ] = None,
) -> None:
    """Change the options given; --markers replaces the whole list."""
    body = build(
        ReferenceSetUpdate,
        name=name,
        description=description,
        markers=_markers_file(markers),
        version=version,
    )
    show(lambda c: c.update_reference_set(set_id, body))


@sets_app.command("delete")
def sets_delete(set_id: SetId) -> None:
    """Delete a reference set."""
    call(lambda c: c.delete_reference_set(set_id))


# presence

presence_app = typer.Typer(**TYPER, help="Who is in a work session.", no_args_is_help=True)

PRESENCE_COLUMNS = ("USER", "DEVICES", "NAME", "LAST SEEN", "EXPIRES")

User = Annotated[
    str, typer.Option(parser=nonempty, help="Your user id (kept verbatim).", show_default=False)
]
Device = Annotated[
    str | None, typer.Option(parser=nonempty, help="Your device id (kept verbatim).")
]


def print_presence(present: PresenceList) -> None:
    if cli_globals.current().json:
        print_json(present)
        return
    rows = [
        (m.user_id, m.devices, m.display_name, m.last_seen, m.expires_at) for m in present.members
    ]
    print_table(PRESENCE_COLUMNS, rows)


@presence_app.command("list")
def presence_list(session_id: SessionId) -> None:
    """Who is present, with their devices."""
    print_presence(call(lambda c: c.list_presence(session_id)))


@presence_app.command("beat")
def presence_beat(
    session_id: SessionId,
    user: User,
    device: Device = None,
    display_name: Annotated[str | None, typer.Option(help="Shown to the others.")] = None,
) -> None:
    """One heartbeat: present for the server's presence TTL (30 s by default)."""
    show(lambda c: c.heartbeat(session_id, user, device_id=device, display_name=display_name))


@presence_app.command("leave")
def presence_leave(
    session_id: SessionId,
    user: Annotated[
        str,
        typer.Argument(
            parser=nonempty, metavar="USER", help="The user id (verbatim).", show_default=False
        ),
    ],
    device: Annotated[
        str | None,
        typer.Option(parser=nonempty, help="Only this device leaves (verbatim)."),
    ] = None,
) -> None:
    """Leave (only --device, when given); prints who is still present."""
    print_presence(call(lambda c: c.leave(session_id, user, device_id=device)))


# locks

lock_app = typer.Typer(**TYPER, help="Edit locks on work sessions.", no_args_is_help=True)

Token = Annotated[
    str,
    typer.Argument(
        parser=nonempty, metavar="TOKEN", help="The token from `lock acquire`.", show_default=False
    ),
]


@lock_app.command("status")
def lock_status(session_id: SessionId) -> None:
    """Whether the session is locked, by whom, until when (never the token)."""
    show(lambda c: c.lock_status(session_id))


@lock_app.command("acquire")
def lock_acquire(
    session_id: SessionId,
    ttl: Annotated[int, typer.Option(min=1, help="Seconds until it expires unless extended.")] = 30,
    owner: Annotated[str | None, typer.Option(help="Shown to others in `lock status`.")] = None,
) -> None:
    """Print the grant (with the token); exit 1 when someone else holds the lock."""
    grant = call(lambda c: c.acquire_lock(session_id, ttl, owner=owner))
    output(grant)
    if not grant.acquired:
        fail(f"work session {session_id} is locked by another holder")


@lock_app.command("extend")
def lock_extend(
    session_id: SessionId,
    token: Token,
    ttl: Annotated[int, typer.Option(min=1, help="New TTL in seconds, from now.")] = 30,
) -> None:
    """Extend a lock you hold; exit 1 when the token no longer holds it."""
    answer = call(lambda c: c.extend_lock(session_id, token, ttl))
    output(answer)
    if not answer.extended:
        fail(f"the lock of {session_id} was not extended: the token does not hold it")


@lock_app.command("release")
def lock_release(session_id: SessionId, token: Token) -> None:
    """Release a lock you hold; exit 1 when the token does not hold it."""
    answer = call(lambda c: c.release_lock(session_id, token))
    output(answer)
    if not answer.released:
        fail(f"the lock of {session_id} was not released: the token does not hold it")


# health, whoami

health_app = typer.Typer(**TYPER)


@health_app.command()
def health() -> None:
    """The server's health report; exit 1 unless the server, its database and Redis are up."""

    def check(client: Client) -> Health:
        try:
            return client.health()
        except Unavailable as error:  # 503 still carries the report
            if isinstance(error.body, Mapping):
                try:
                    return Health.model_validate(error.body)
                except ValidationError:
                    pass
            raise

    report = call(check)
    output(report)
    if report.status != "ok":
        down = [name for name in ("database", "redis") if getattr(report, name) != "up"]
        fail(f"the server is {report.status}: {', '.join(down)} down")


# watch


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
    """Follow a work session live: one line per change, presence and lock event (with
    --json, one JSON object per line), resumed by itself after a drop. Exits 1 when the
    server cannot be reached at first or the stream cannot be resumed (the session is gone,
    or the cursor is older than the server keeps), 0 when the session is deleted."""
    json_out = cli_globals.current().json
    try:
        with connect() as client:
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


whoami_app = typer.Typer(**TYPER)


@whoami_app.command()
def whoami() -> None:
    """What the API token is (its name, user and scope) as the server sees it, or why the
    server refuses it; with auth off, that the server checks no token."""
    caller = call(lambda c: c.whoami())
    if cli_globals.current().json:
        print_json(caller)
        return
    token = caller.token
    if caller.auth == "off":
        given = " (the token given is not checked)" if cli_globals.current().token else ""
        typer.echo(f"no token needed: the server's auth is off, every caller is admin{given}")
        return
    assert token is not None
    expiry = "never" if token.expires_at is None else cell(token.expires_at)
    typer.echo(
        f"token {token.name} ({token.id}): scope {caller.scope}, "
        f"user {caller.user_id or '(none: may not act in presence or locks)'}, expires {expiry}"
    )


def output(answer: BaseModel) -> None:
    """An answer a command printed before it decided its exit status."""
    if cli_globals.current().json:
        print_json(answer)
    else:
        print_object(answer)
