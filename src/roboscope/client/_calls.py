"""Every API call described once, without I/O, so the async and blocking clients cannot drift.

A `Call` says which method, path, query, body and headers to send and how to parse the
answer; `AsyncClient` and `Client` only execute it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..wire import (
    Anchor,
    AnchorUpdate,
    AnchorUpsert,
    Health,
    LaserGuide,
    LaserGuidePut,
    Marker,
    MarkerBulkCreate,
    MarkerCreate,
    MarkerDetails,
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
from ..wire.changes import CURSOR_HEADER, ChangePage
from ..wire.common import Patch
from ..wire.locks import (
    LockAcquire,
    LockExtend,
    LockExtension,
    LockGrant,
    LockRelease,
    LockReleased,
    LockStatus,
)
from ..wire.presence import PresenceBeat, PresenceHeartbeat, PresenceList
from ..wire.tokens import (
    ApiToken,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenRevoked,
    Caller,
    StreamToken,
)
from .errors import BadResponse, ConnectionFailed, raise_for_error
from .events import MarkerSnapshot

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


def one(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate_json(response.content)


_list_adapters: dict[type[BaseModel], TypeAdapter[Any]] = {}


def many(model: type[M]) -> Callable[[httpx.Response], list[M]]:
    """A list parser; adapters are built once per model (building one costs milliseconds)."""
    adapter = _list_adapters.get(model)
    if adapter is None:
        adapter = _list_adapters[model] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def parse(response: httpx.Response) -> list[M]:
        items: list[M] = adapter.validate_json(response.content)
        return items

    return parse


def nothing(_: httpx.Response) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, and the cursor of the next page (None: the last)."""

    items: list[T]
    next_cursor: str | None


def paged(model: type[M]) -> Callable[[httpx.Response], Page[M]]:
    """A page parser: the items, and the next page's cursor from the `Link` header."""
    parse_items = many(model)

    def parse(response: httpx.Response) -> Page[M]:
        following = response.links.get("next", {}).get("url")
        cursor = httpx.URL(following).params.get("cursor") if following else None
        return Page(parse_items(response), cursor)

    return parse


def _lock(token: str | None) -> dict[str, str]:
    return {LOCK_TOKEN_HEADER: token} if token is not None else {}


def _uid_or_none(value: Id | None) -> str | None:
    return None if value is None else uid(value)


def _query(**values: object) -> dict[str, str]:
    """Query parameters without the absent ones; booleans as `true`/`false`.

    Values are sent as given: resource ids are parsed by the caller (`uid`), never here by
    name, because opaque client ids such as `device_id` also end in `_id` and must travel
    verbatim."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
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


# Health


def health() -> Call[Health]:
    return Call("GET", "/health", one(Health))


# Spaces


def list_spaces(key: str | None, include_inactive: bool) -> Call[list[Space]]:
    params = _query(key=key, include_inactive=include_inactive or None)
    return Call("GET", "/spaces", many(Space), params)


def page_spaces(
    key: str | None, include_inactive: bool, limit: int, cursor: str | None
) -> Call[Page[Space]]:
    params = _query(key=key, include_inactive=include_inactive or None, limit=limit, cursor=cursor)
    return Call("GET", "/spaces", paged(Space), params)


def create_space(body: SpaceCreate) -> Call[Space]:
    return Call("POST", "/spaces", one(Space), body=dump(body))


def get_space(space_id: Id) -> Call[Space]:
    return Call("GET", f"/spaces/{uid(space_id)}", one(Space))


def update_space(space_id: Id, body: SpaceUpdate) -> Call[Space]:
    return Call("PATCH", f"/spaces/{uid(space_id)}", one(Space), body=dump(body))


def delete_space(space_id: Id) -> Call[None]:
    return Call("DELETE", f"/spaces/{uid(space_id)}", nothing)


# Work sessions


def list_work_sessions(
    space_id: Id | None, status: WorkSessionStatus | None, session_type: SessionType | None
) -> Call[list[WorkSession]]:
    params = _query(space_id=_uid_or_none(space_id), status=status, session_type=session_type)
    return Call("GET", "/work-sessions", many(WorkSession), params)


def page_work_sessions(
    space_id: Id | None,
    status: WorkSessionStatus | None,
    session_type: SessionType | None,
    limit: int,
    cursor: str | None,
) -> Call[Page[WorkSession]]:
    params = _query(
        space_id=_uid_or_none(space_id),
        status=status,
        session_type=session_type,
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", "/work-sessions", paged(WorkSession), params)


def create_work_session(body: WorkSessionCreate) -> Call[WorkSession]:
    return Call("POST", "/work-sessions", one(WorkSession), body=dump(body))


def get_work_session(session_id: Id) -> Call[WorkSession]:
    return Call("GET", f"/work-sessions/{uid(session_id)}", one(WorkSession))


def update_work_session(
    session_id: Id, body: WorkSessionUpdate, lock_token: str | None
) -> Call[WorkSession]:
    path = f"/work-sessions/{uid(session_id)}"
    return Call("PATCH", path, one(WorkSession), body=dump(body), headers=_lock(lock_token))


def delete_work_session(session_id: Id, lock_token: str | None) -> Call[None]:
    path = f"/work-sessions/{uid(session_id)}"
    return Call("DELETE", path, nothing, headers=_lock(lock_token))


# Markers


def list_markers(work_session_id: Id | None) -> Call[list[Marker]]:
    return Call(
        "GET", "/markers", many(Marker), _query(work_session_id=_uid_or_none(work_session_id))
    )


def page_markers(work_session_id: Id | None, limit: int, cursor: str | None) -> Call[Page[Marker]]:
    params = _query(work_session_id=_uid_or_none(work_session_id), limit=limit, cursor=cursor)
    return Call("GET", "/markers", paged(Marker), params)


def marker_snapshot(work_session_id: Id) -> Call[MarkerSnapshot]:
    """The session's markers with the change log cursor they are as of (a snapshot to follow
    the session's changes from)."""
    parse_markers = many(Marker)

    def parse(response: httpx.Response) -> MarkerSnapshot:
        cursor = response.headers.get(CURSOR_HEADER, "")
        if not cursor.isdigit():
            raise BadResponse(f"the marker list came without a {CURSOR_HEADER} header")
        return MarkerSnapshot(parse_markers(response), int(cursor))

    return Call("GET", f"/work-sessions/{uid(work_session_id)}/markers", parse)


def session_changes(work_session_id: Id, since: int | None, limit: int | None) -> Call[ChangePage]:
    path = f"/work-sessions/{uid(work_session_id)}/changes"
    return Call("GET", path, one(ChangePage), _query(since=since, limit=limit))


def list_events(
    since: int | None,
    limit: int | None,
    entity: str | None,
    entity_id: Id | None,
    work_session_id: Id | None,
    space_id: Id | None,
) -> Call[ChangePage]:
    params = _query(
        since=since,
        limit=limit,
        entity=entity,
        entity_id=_uid_or_none(entity_id),
        work_session_id=_uid_or_none(work_session_id),
        space_id=_uid_or_none(space_id),
    )
    return Call("GET", "/events", one(ChangePage), params)


def create_marker(body: MarkerCreate, lock_token: str | None) -> Call[Marker]:
    return Call("POST", "/markers", one(Marker), body=dump(body), headers=_lock(lock_token))


def create_markers(body: MarkerBulkCreate, lock_token: str | None) -> Call[list[Marker]]:
    return Call("POST", "/markers/bulk", many(Marker), body=dump(body), headers=_lock(lock_token))


def get_marker(marker_id: Id) -> Call[Marker]:
    return Call("GET", f"/markers/{uid(marker_id)}", one(Marker))


def update_marker(marker_id: Id, body: MarkerUpdate, lock_token: str | None) -> Call[Marker]:
    path = f"/markers/{uid(marker_id)}"
    return Call("PATCH", path, one(Marker), body=dump(body), headers=_lock(lock_token))


def delete_marker(marker_id: Id, lock_token: str | None) -> Call[None]:
    return Call("DELETE", f"/markers/{uid(marker_id)}", nothing, headers=_lock(lock_token))


# Marker details


def _details(marker_id: Id) -> str:
    return f"/markers/{uid(marker_id)}/details"


def get_marker_details(marker_id: Id) -> Call[MarkerDetails]:
    return Call("GET", _details(marker_id), one(MarkerDetails))


def calculate_marker_details(marker_id: Id) -> Call[MarkerDetails]:
    return Call("POST", f"{_details(marker_id)}/calculate", one(MarkerDetails), body={})


def put_marker_details(marker_id: Id, body: MarkerDetailsPut) -> Call[MarkerDetails]:
    return Call("PUT", _details(marker_id), one(MarkerDetails), body=dump(body))


def delete_marker_details(marker_id: Id) -> Call[None]:
    return Call("DELETE", _details(marker_id), nothing)


# Anchors


def list_anchors(session_id: Id | None) -> Call[list[Anchor]]:
    return Call("GET", "/anchors", many(Anchor), _query(session_id=_uid_or_none(session_id)))


def upsert_anchor(body: AnchorUpsert) -> Call[Anchor]:
    return Call("POST", "/anchors", one(Anchor), body=dump(body))


def get_anchor(anchor_id: Id) -> Call[Anchor]:
    return Call("GET", f"/anchors/{uid(anchor_id)}", one(Anchor))


def update_anchor(anchor_id: Id, body: AnchorUpdate) -> Call[Anchor]:
    # Not a `Patch`, but the same rule: only what was set is sent.
    payload = body.model_dump(mode="json", exclude_unset=True)
    return Call("PATCH", f"/anchors/{uid(anchor_id)}", one(Anchor), body=payload)


def delete_anchor(anchor_id: Id) -> Call[None]:
    return Call("DELETE", f"/anchors/{uid(anchor_id)}", nothing)


# Laser guides


def _guide(space_id: Id) -> str:
    return f"/spaces/{uid(space_id)}/laser-guide"


def get_laser_guide(space_id: Id) -> Call[LaserGuide]:
    return Call("GET", _guide(space_id), one(LaserGuide))


def put_laser_guide(space_id: Id, body: LaserGuidePut) -> Call[LaserGuide]:
    return Call("PUT", _guide(space_id), one(LaserGuide), body=dump(body))


def delete_laser_guide(space_id: Id) -> Call[None]:
    return Call("DELETE", _guide(space_id), nothing)


# Reference sets


def list_reference_sets(space_id: Id) -> Call[list[ReferenceSet]]:
    return Call("GET", f"/spaces/{uid(space_id)}/reference-sets", many(ReferenceSet))


def create_reference_set(space_id: Id, body: ReferenceSetCreate) -> Call[ReferenceSet]:
    path = f"/spaces/{uid(space_id)}/reference-sets"
    return Call("POST", path, one(ReferenceSet), body=dump(body))


def get_reference_set(set_id: Id) -> Call[ReferenceSet]:
    return Call("GET", f"/reference-sets/{uid(set_id)}", one(ReferenceSet))


def update_reference_set(set_id: Id, body: ReferenceSetUpdate) -> Call[ReferenceSet]:
    return Call("PATCH", f"/reference-sets/{uid(set_id)}", one(ReferenceSet), body=dump(body))


def delete_reference_set(set_id: Id) -> Call[None]:
    return Call("DELETE", f"/reference-sets/{uid(set_id)}", nothing)


# Presence


def heartbeat(session_id: Id, body: PresenceHeartbeat) -> Call[PresenceBeat]:
    return Call("POST", f"/presence/{uid(session_id)}", one(PresenceBeat), body=dump(body))


def presence(session_id: Id) -> Call[PresenceList]:
    return Call("GET", f"/presence/{uid(session_id)}", one(PresenceList))


def leave(session_id: Id, user_id: str, device_id: str | None) -> Call[PresenceList]:
    # User and device ids are opaque and verbatim: slashes, `?` and `#` must survive the
    # path, and the device id is sent as given (case kept), never parsed.
    path = f"/presence/{uid(session_id)}/{quote(user_id, safe='')}"
    return Call("DELETE", path, one(PresenceList), _query(device_id=device_id))


# Locks (the seed guide's route family)


def acquire_lock(session_id: Id, body: LockAcquire) -> Call[LockGrant]:
    return Call("POST", f"/locks/{uid(session_id)}", one(LockGrant), body=dump(body))


def lock_status(session_id: Id) -> Call[LockStatus]:
    return Call("GET", f"/locks/{uid(session_id)}", one(LockStatus))


def extend_lock(session_id: Id, body: LockExtend) -> Call[LockExtension]:
    return Call("POST", f"/locks/{uid(session_id)}/extend", one(LockExtension), body=dump(body))


def release_lock(session_id: Id, body: LockRelease) -> Call[LockReleased]:
    return Call("DELETE", f"/locks/{uid(session_id)}", one(LockReleased), body=dump(body))


def force_release_lock(session_id: Id) -> Call[LockReleased]:
    return Call("POST", f"/locks/{uid(session_id)}/force-release", one(LockReleased))


def whoami() -> Call[Caller]:
    return Call("GET", "/whoami", one(Caller))


def list_tokens() -> Call[list[ApiToken]]:
    return Call("GET", "/tokens", many(ApiToken))


def create_token(body: ApiTokenCreate) -> Call[ApiTokenCreated]:
    return Call("POST", "/tokens", one(ApiTokenCreated), body=dump(body))


def revoke_token(name_or_id: str) -> Call[ApiTokenRevoked]:
    return Call("DELETE", f"/tokens/{quote(name_or_id, safe='')}", one(ApiTokenRevoked))


def stream_token(session_id: Id) -> Call[StreamToken]:
    return Call("POST", f"/work-sessions/{uid(session_id)}/stream-token", one(StreamToken))
