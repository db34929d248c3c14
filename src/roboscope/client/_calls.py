"""How an API operation is described, and turned into one request, without I/O.

An `Operation` says which method and path to send, which inputs go where (path, query,
header, body), and how to parse the answer. `client/operations.py` describes every one of
them, once; `AsyncClient` and `Client` only execute the `Call` an operation makes, and their
methods are generated from the descriptions (scripts/unasync_client.py), as the CLI commands
are built from them (cli_client.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..wire.common import Patch
from .errors import BadResponse, ConnectionFailed, raise_for_error

if TYPE_CHECKING:
    from .operations.cli import Command

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Id = UUID | str
"""A resource id: a `UUID`, or its text in any case (it is parsed, never sent unchecked)."""

LOCK_TOKEN_HEADER = "X-Lock-Token"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str] | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def uid(value: Id) -> str:
    """The canonical text of an id; a malformed one fails here, not as a server 404/422."""
    return str(value if isinstance(value, UUID) else UUID(str(value)))


def dump(model: BaseModel) -> Any:
    """A body as the iOS clients send it: a PATCH carries only what was set (so an explicit
    `None` clears and an absent field stays unchanged); other bodies omit absent optionals."""
    if isinstance(model, Patch):
        return model.model_dump(mode="json", exclude_unset=True)
    return model.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, and the cursor of the next page (None: the last)."""

    items: list[T]
    next_cursor: str | None


# Answers: how a response is parsed, and what the SDK says it returns.

Shape = Literal["one", "many", "page", "none", "other"]


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    parse: Callable[[httpx.Response], T]
    annotation: str
    """The type, as a generated method writes it."""
    shape: Shape = "other"
    model: type[BaseModel] | None = None


@functools.cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    """Built once per model, on the first answer that needs it: building one costs
    milliseconds, and a command or a program uses few of the described lists."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _items(model: type[M]) -> Callable[[httpx.Response], list[M]]:
    def parse(response: httpx.Response) -> list[M]:
        items: list[M] = _list_adapter(model).validate_json(response.content)
        return items

    return parse


def one(model: type[M]) -> Answer[M]:
    parse: Callable[[httpx.Response], M] = lambda r: model.model_validate_json(r.content)  # noqa: E731
    return Answer(parse, model.__name__, "one", model)


def many(model: type[M]) -> Answer[list[M]]:
    return Answer(_items(model), f"list[{model.__name__}]", "many", model)


def paged(model: type[M]) -> Answer[Page[M]]:
    """A page: the items, and the next page's cursor from the `Link` header."""
    parse_items = _items(model)

    def parse(response: httpx.Response) -> Page[M]:
        following = response.links.get("next", {}).get("url")
        cursor = httpx.URL(following).params.get("cursor") if following else None
        return Page(parse_items(response), cursor)

    return Answer(parse, f"Page[{model.__name__}]", "page", model)


def _nothing(_: httpx.Response) -> None:
    return None


NOTHING: Answer[None] = Answer(_nothing, "None", "none")


# Inputs: where each argument of an operation goes.

Where = Literal["path", "query", "header", "body", "field"]
"""`body`: the whole body, a wire model; `field`: one field of a body made from arguments."""


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    annotation: str
    """Its type, as a generated method writes it (`Id` is parsed with `uid`)."""
    where: Where
    default: str | None = None
    """The default, as Python source; None: required."""
    keyword: bool = False
    """Keyword-only in the SDK."""
    wire: str | None = None
    """Its name in the query or the header, when not `name`."""
    unless: Any = None
    """A value that is not sent at all (besides None)."""
    help: str = ""
    """What it is: the SDK's docs and the CLI's help line."""
    option: str | None = None
    """The CLI's spelling when not the shared one (`--space`; `TOKEN` for an argument)."""

    @property
    def is_id(self) -> bool:
        return self.annotation.split(" |")[0] == "Id"


@dataclass(frozen=True, slots=True)
class Body:
    """How the body is made: a wire model the caller passes whole (`body: SpaceCreate`), or
    one made from the arguments whose inputs are `field`s (`heartbeat(…, user_id, …)`)."""

    model: type[BaseModel]
    whole: bool = True
    only_set: bool = False
    """Send only the fields that were set, like a PATCH, without being a `Patch`."""


EMPTY = object()
"""A body of `{}` (an action that takes no input, but a JSON body)."""


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    method: str
    route: str
    """The path under /api/v1, with `{name}` for path inputs."""
    answer: Answer[T]
    inputs: tuple[Input, ...] = ()
    body: Body | object | None = None
    doc: str = ""
    """The SDK method's docstring."""
    command: Command | None = None
    """How the CLI offers it, if it does."""

    def call(self, **arguments: Any) -> Call[T]:
        """The request for these arguments; input the wire models refuse raises pydantic's
        `ValidationError` here, before anything is sent."""
        path_values: dict[str, str] = {}
        query: dict[str, Any] = {}
        headers: dict[str, str] = {}
        fields: dict[str, Any] = {}
        body: Any = {} if self.body is EMPTY else None
        for given in self.inputs:
            value = arguments[given.name]
            if given.where == "path":
                path_values[given.name] = uid(value) if given.is_id else quote(value, safe="")
            elif value is None or (given.unless is not None and value == given.unless):
                continue
            elif given.where == "query":
                query[given.wire or given.name] = uid(value) if given.is_id else value
            elif given.where == "header":
                headers[given.wire or given.name] = str(value)
            elif given.where == "field":
                fields[given.name] = value
            else:
                body = self._dump(value)
        if isinstance(self.body, Body) and not self.body.whole:
            body = self._dump(self.body.model.model_validate(fields))
        params = _query(query) or None
        return Call(
            self.method, self.route.format(**path_values), self.answer.parse, params, body, headers
        )

    def _dump(self, model: BaseModel) -> Any:
        if isinstance(self.body, Body) and self.body.only_set:
            return model.model_dump(mode="json", exclude_unset=True)
        return dump(model)


# Inputs many operations share.


def path_id(name: str, what: str) -> Input:
    return Input(name, "Id", "path", help=f"The {what}'s id.")


def lock_token() -> Input:
    """`X-Lock-Token`: the write is applied only while the token holds the session's lock."""
    return Input("lock_token", "str | None", "header", "None", keyword=True, wire=LOCK_TOKEN_HEADER)


def whole(model: type[BaseModel]) -> Input:
    """The whole body: the SDK takes the wire model (`body: SpaceCreate`)."""
    return Input("body", model.__name__, "body")


LIMIT = Input("limit", "int", "query", "100", keyword=True)
CURSOR = Input("cursor", "str | None", "query", "None", keyword=True)


def _query(values: Mapping[str, object]) -> dict[str, str]:
    """Query parameters as text: booleans as `true`/`false`, enums by value. Opaque client
    ids such as `device_id` travel verbatim (only `Id` inputs are parsed)."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(getattr(value, "value", value))
    return out


def finish(call: Call[T], response: httpx.Response) -> T:
    """An answer as the call's type: error statuses raise `ApiError`s, and a body that does
    not parse raises `BadResponse` (so a pydantic `ValidationError` from the SDK always means
    the caller's input was refused before sending)."""
    raise_for_error(response)
    try:
        return call.parse(response)
    except ValidationError as error:
        raise BadResponse(
            f"unexpected answer to {call.method} {call.path}: "
            f"{error.error_count()} invalid field(s), first: {error.errors()[0]['msg']}"
        ) from error


def unreachable(base_url: str, call: Call[Any], error: httpx.TransportError) -> ConnectionFailed:
    reason = str(error) or type(error).__name__
    return ConnectionFailed(f"cannot reach {base_url}{call.path} ({call.method}): {reason}")
