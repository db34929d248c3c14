"""Client commands over the blocking SDK, built from the operations' descriptions
(client/operations/): `roboscope health|whoami|spaces|sessions|markers|details|anchors|
laser-guide|reference-sets|presence|lock` (`watch`, which follows a stream, is cli_watch.py).

- Each operation with a `Command` becomes one command: its path inputs are arguments, its
  other inputs and the fields of its body are options, spelled and explained once in
  `operations.cli.FIELDS`. Nothing here repeats an operation.
- Output is for people by default: lists are tables, a single object is `field  value`
  lines. `--json` prints the wire JSON instead, for scripts. List commands show at most
  `--limit` rows (100 by default; `--all` for every one), with a note on stderr when more
  were left.
- Input the CLI can refuse before sending (a point with NaN, an empty key or user id, a file
  that is not JSON) is a usage error: one line `error: --p1: …` naming the option, exit 2.
- Every failure after sending exits 1 with one line on stderr: an error answer, an
  unreachable server, a lock that was not acquired, extended or released, an unhealthy
  health report.
- The server (`--url`) and the API token (`--token`) are global options: `cli_globals` is
  the one place that resolves them.

This module imports the SDK only (httpx, pydantic, typer): never the server, the database
layer, Redis or Alembic.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import typer
from pydantic import BaseModel, ValidationError

from . import cli_globals
from .cli_globals import TYPER
from .cli_inputs import PARSERS, read_json, refuse, value_of
from .cli_output import print_json, print_object, print_table
from .client import Client, ClientError, Page, Unauthorized, Unavailable
from .client._calls import Input, Operation
from .client.operations import described
from .client.operations.cli import FIELDS, SWITCH, Command, Option
from .wire.presence import PresenceList

if TYPE_CHECKING:
    from .wire import Health
    from .wire.locks import LockExtension, LockGrant, LockReleased
    from .wire.tokens import Caller

T = TypeVar("T")

COMMANDS: dict[str, tuple[str, str | None]] = {
    "health": ("realtime", None),
    "whoami": ("realtime", None),
    "spaces": ("resources", "Spaces: the physical places markers live in."),
    "sessions": ("resources", "Work sessions: one job in a space."),
    "markers": ("resources", "AR markers: four corners in a work session."),
    "details": ("resources", "Marker details: a marker's footprint in its session's frame."),
    "anchors": ("resources", "Anchors: a world position per (work session, run, local z)."),
    "laser-guide": ("resources", "Laser guides: one grid of guide lines per space."),
    "reference-sets": (
        "resources",
        "Reference sets: named sets of reference markers in a space.",
    ),
    "presence": ("realtime", "Who is in a work session."),
    "lock": ("realtime", "Edit locks on work sessions."),
}
"""Each client command: the module of client/operations/ that describes its operations (only
that one is loaded to run it), and for a group of commands, its help line."""
DEFAULT_LIMIT = 100
PAGE_SIZE = 1000


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def call(action: Callable[[Client], T]) -> T:
    """Run one SDK action: an SDK error is one line on stderr and exit 1; input the SDK
    refused before sending is a usage error (exit 2)."""
    options = cli_globals.current()
    try:
        with Client(options.url, token=options.token) as client:
            return action(client)
    except Unauthorized as error:
        fail(f"{error} (give an API token: --token or ROBOSCOPE_TOKEN)")
    except ClientError as error:
        fail(str(error))
    except ValidationError as error:
        refuse(error, spelling)
    except ValueError as error:  # e.g. an empty user id for a URL path
        raise typer.BadParameter(str(error)) from None


# How answers are shown: tables for lists, checks that decide the exit status.

Table = tuple[tuple[str, ...], Callable[[Any], Sequence[Any]]]


@functools.cache
def tables() -> dict[type[BaseModel], Table]:
    """The columns of each list, by the model of its items (imported by a list command only:
    the others answer none of these models)."""
    from .wire import Anchor, Marker, ReferenceSet, Space, WorkSession

    return {
        Space: (
            ("ID", "KEY", "NAME", "ACTIVE", "UPDATED"),
            lambda s: (s.id, s.key, s.name, s.is_active, s.updated_at),
        ),
        WorkSession: (
            ("ID", "SPACE", "TYPE", "STATUS", "VERSION", "UPDATED"),
            lambda s: (s.id, s.space_id, s.session_type, s.status, s.version, s.updated_at),
        ),
        Marker: (
            ("ID", "LABEL", "VERSION", "P1", "P2", "P3", "P4", "DETAILS"),
            lambda m: (m.id, m.label, m.version, m.p1, m.p2, m.p3, m.p4, m.details is not None),
        ),
        Anchor: (
            ("ID", "SESSION", "RUN", "LOCAL Z", "POSITION", "UPDATED"),
            lambda a: (a.id, a.session_id, a.run, a.local_z, a.world_position, a.updated_at),
        ),
        ReferenceSet: (
            ("ID", "NAME", "MARKERS", "VERSION", "UPDATED"),
            lambda r: (r.id, r.name, len(r.markers), r.version, r.updated_at),
        ),
    }


PRESENCE = ("USER", "DEVICES", "NAME", "LAST SEEN", "EXPIRES")


def show(answer: Any, text: str | None = None) -> None:
    """An answer as JSON (`--json`), else as text: a table, `field  value` lines, or the
    command's own form."""
    if cli_globals.current().json:
        print_json(answer)
    elif text is not None:
        TEXT[text](answer)
    elif isinstance(answer, list):
        headers, row = tables()[type(answer[0])] if answer else (("-",), lambda _: ())
        print_table(headers, [row(item) for item in answer])
    elif isinstance(answer, PresenceList):
        rows = [
            (m.user_id, m.devices, m.display_name, m.last_seen, m.expires_at)
            for m in answer.members
        ]
        print_table(PRESENCE, rows)
    elif isinstance(answer, BaseModel):
        print_object(answer)


def _healthy(report: Health, _: Mapping[str, Any]) -> None:
    if report.status != "ok":
        down = [name for name in ("database", "redis") if getattr(report, name) != "up"]
        fail(f"the server is {report.status}: {', '.join(down)} down")


def _acquired(grant: LockGrant, given: Mapping[str, Any]) -> None:
    if not grant.acquired:
        fail(f"work session {given['session_id']} is locked by another holder")


def _extended(answer: LockExtension, given: Mapping[str, Any]) -> None:
    if not answer.extended:
        fail(f"the lock of {given['session_id']} was not extended: the token does not hold it")


def _released(answer: LockReleased, given: Mapping[str, Any]) -> None:
    if not answer.released:
        fail(f"the lock of {given['session_id']} was not released: the token does not hold it")


def _caller(caller: Caller) -> None:
    if caller.auth == "off":
        given = " (the token given is not checked)" if cli_globals.current().token else ""
        typer.echo(f"no token needed: the server's auth is off, every caller is admin{given}")
        return
    token = caller.token
    assert token is not None  # auth on: the server answered for a live token
    expiry = "never" if token.expires_at is None else f"{token.expires_at:%Y-%m-%dT%H:%M:%SZ}"
    user = caller.user_id or "(none: may not act in presence or locks)"
    typer.echo(
        f"token {token.name} ({token.id}): scope {caller.scope}, user {user}, expires {expiry}"
    )


CHECKS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "healthy": _healthy,
    "acquired": _acquired,
    "extended": _extended,
    "released": _released,
}
TEXT: dict[str, Callable[[Any], None]] = {"caller": _caller}


# Commands from descriptions.


def spelling(name: str) -> str:
    """How a command spells an input or body field (for errors that name it)."""
    known = FIELDS.get(name)
    return known.flag.split("/")[0] if known else "--" + name.replace("_", "-")


def _option(
    name: str, option: Option, *, default: Any = None, required: bool = False, help_line: str = ""
) -> inspect.Parameter:
    """One keyword parameter that Typer makes an option (or, spelled in capitals, an
    argument) of a command."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    help_line = help_line or option.help
    if option.kind == SWITCH:
        switch = Annotated[bool, typer.Option(option.flag, help=help_line)]
        return inspect.Parameter(name, keyword, default=False, annotation=switch)
    python_type: Any
    python_type, parser, metavar = PARSERS.get(option.kind, (option.kind, None, None))
    settings: dict[str, Any] = {"help": help_line, "show_default": False}
    if parser is not None:
        settings["parser"] = parser
    if metavar is not None:
        settings["metavar"] = metavar
    if option.minimum is not None:
        settings["min"] = option.minimum
    if "/" in option.flag:  # --active/--inactive
        python_type = bool
    if option.flag.isupper():
        settings["metavar"] = option.flag
        info: Any = typer.Argument(**settings)
    else:
        named = option.flag.lstrip("-").upper().replace("-", "_")
        settings.setdefault("metavar", f"{named}_ID" if python_type is UUID else named)
        info = typer.Option(option.flag, **settings)
    shown = python_type if required else python_type | None
    annotation = Annotated.__class_getitem__((shown, info))  # type: ignore[attr-defined]
    empty = inspect.Parameter.empty
    return inspect.Parameter(
        name, keyword, default=empty if required else default, annotation=annotation
    )


def _input_option(given: Input, command: Command) -> Option:
    """How a command offers an input that is not the body: an argument for a path input,
    else an option, spelled as shared (`FIELDS`) unless the input says otherwise."""
    shared = FIELDS.get(given.name)
    help_line = command.helps.get(given.name, given.help or (shared.help if shared else ""))
    if given.where == "path":
        kind: object = UUID if given.is_id else (shared.kind if shared else str)
        return Option(given.option or given.name.upper(), help_line, kind)
    flag = given.option or (shared.flag if shared else spelling(given.name))
    kind = SWITCH if given.annotation == "bool" else (shared.kind if shared else str)
    return Option(flag, help_line, kind, shared.minimum if shared else None)


def _body_fields(model: type[BaseModel]) -> list[str]:
    return [name for name in model.model_fields if name in FIELDS]


def build_command(name: str, operation: Operation[Any]) -> Callable[..., None]:
    """The command function of an operation: Typer reads its signature."""
    command = operation.command
    assert command is not None  # only described commands are built
    params: list[inspect.Parameter] = []
    body_model = getattr(operation.body, "model", None)
    for given in operation.inputs:
        if given.option == "":  # not offered: the SDK's default
            continue
        if given.where == "body" or (given.where == "field" and command.from_file):
            if command.from_file:
                params.append(
                    _option(
                        "file",
                        Option("FILE", "A JSON file, or - for standard input."),
                        required=True,
                    )
                )
                continue
            assert body_model is not None
            for field in _body_fields(body_model):
                required = (
                    body_model.model_fields[field].is_required() and field not in command.defaults
                )
                option = FIELDS[field]
                params.append(
                    _option(
                        field,
                        option,
                        default=command.defaults.get(field),
                        required=required,
                        help_line=command.helps.get(field, option.help),
                    )
                )
            continue
        option = _input_option(given, command)
        required = given.default is None and given.where in ("path", "field")
        params.append(
            _option(given.name, option, default=command.defaults.get(given.name), required=required)
        )
    for field, option in command.fill.items():
        params.append(_option(field, option))
    listing = operation.answer.shape == "many" and operation.method == "GET"
    if listing:
        params.append(
            _option(
                "limit",
                Option(
                    "--limit",
                    f"Show at most this many (default {DEFAULT_LIMIT}; a note on stderr says "
                    "when more were left).",
                    int,
                    minimum=1,
                ),
            )
        )
        params.append(_option("every", Option("--all", "Show every one, however many.", SWITCH)))

    def run(**values: Any) -> None:
        arguments = _arguments(operation, command, {k: value_of(v) for k, v in values.items()})
        limit, every = values.get("limit"), values.get("every", False)
        if listing:
            show(_listed(name, command, arguments, limit, every))
            return
        answer = call(lambda client: _send(client, name, operation, command, arguments))
        show(answer, command.text)
        if command.check is not None:
            CHECKS[command.check](answer, arguments)

    run.__name__ = name
    run.__doc__ = command.help
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return run


def build(model: type[BaseModel], hint: str | None = None, **fields: Any) -> Any:
    """A wire body from the options that were given (None means "not given")."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        refuse(error, spelling, hint)


def _arguments(
    operation: Operation[Any], command: Command, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The SDK method's arguments from the command's options."""
    model: Any = getattr(operation.body, "model", None)
    out: dict[str, Any] = {}
    for given in operation.inputs:
        if given.option == "":
            continue
        if given.where == "body" and command.from_file:
            data = read_json(values["file"])
            if not isinstance(data, dict):
                raise typer.BadParameter("must be a JSON object", param_hint="FILE")
            out["body"] = build(model, hint="FILE", **data)
        elif given.where == "body":
            out["body"] = build(
                model, **{field: values.get(field) for field in _body_fields(model)}
            )
        elif given.where == "field" and command.from_file:  # a body of one list
            data = read_json(values["file"])
            items = data.get(given.name) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise typer.BadParameter(f"must be a JSON list of {given.name}", param_hint="FILE")
            for field in command.fill:
                if values.get(field) is not None:
                    filler = {field: str(values[field])}
                    items = [
                        {**filler, **item} if isinstance(item, dict) else item for item in items
                    ]
            out[given.name] = getattr(build(model, hint="FILE", **{given.name: items}), given.name)
        else:
            out[given.name] = values.get(given.name)
    return out


def _send(
    client: Client,
    name: str,
    operation: Operation[Any],
    command: Command,
    arguments: dict[str, Any],
) -> Any:
    body = arguments.get("body")
    if command.unversioned and body is not None and getattr(body, "version", 0) is None:
        # No --version: apply the change to the current version, retried on conflict.
        target = next(given.name for given in operation.inputs if given.where == "path")
        extra = {"lock_token": arguments["lock_token"]} if "lock_token" in arguments else {}
        return getattr(client, command.unversioned)(arguments[target], lambda _: body, **extra)
    try:
        return getattr(client, name)(**arguments)
    except Unavailable as error:  # a 503 that still carries the answer (a health report)
        model = operation.answer.model
        if (
            operation.answer.shape == "one"
            and model is not None
            and isinstance(error.body, Mapping)
        ):
            try:
                return model.model_validate(error.body)
            except ValidationError:
                pass
        raise


def _listed(
    name: str, command: Command, arguments: dict[str, Any], limit: int | None, every: bool
) -> list[Any]:
    """At most `limit` items (default `DEFAULT_LIMIT`), or all with `every`: page by page
    when the server pages the list, else cut from the whole; a note when more were left."""
    if every and limit is not None:
        raise typer.BadParameter("give --limit or --all, not both", param_hint="--all")
    cap = None if every else (limit or DEFAULT_LIMIT)

    def gather(client: Client) -> tuple[list[Any], bool]:
        if command.pages is None:
            whole = list(getattr(client, name)(**arguments))
            return (whole, False) if cap is None else (whole[:cap], len(whole) > cap)
        pager = getattr(client, command.pages)
        items: list[Any] = []
        cursor = None
        while True:
            size = PAGE_SIZE if cap is None else min(PAGE_SIZE, cap - len(items))
            page: Page[Any] = pager(**arguments, limit=size, cursor=cursor)
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


def app(name: str) -> typer.Typer:
    """The Typer app of the client command `name` (cli.py loads it when it is run): a group
    with its described commands, or a single command, built from its module's descriptions."""
    module, help_line = COMMANDS[name]
    built = typer.Typer(**TYPER, help=help_line, no_args_is_help=help_line is not None)
    for method, (_, operation) in described(module).items():
        command: Command | None = operation.command
        if command is None or command.words[0] != name:
            continue
        function = build_command(method, operation)
        # Commands that print nothing take no --json.
        silent = operation.answer.shape == "none"
        function.uses = cli_globals.CLIENT - {cli_globals.JSON} if silent else cli_globals.CLIENT  # type: ignore[attr-defined]
        built.command(*command.words[1:])(function)
    return built
