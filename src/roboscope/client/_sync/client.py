# Generated from client/_async/client.py by scripts/unasync_client.py: do not edit.
# Edit the async source, then run `python scripts/unasync_client.py`.
"""The client: the operations' methods (generated, `operations.py`) and the collaborative
behaviours built on them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

import httpx

from .._base import DEFAULT_TIMEOUT, DEFAULT_URL, HEADERS, LIMITS, api_url
from .._calls import Call, Id, finish, unreachable
from .._transport import DefaultTransport
from .operations import Operations

if TYPE_CHECKING:
    # The behaviours are imported by the methods that make them: a program that only calls
    # the API (the CLI's one request, say) does not load them (nor asyncio, for `Client`).
    from ...wire import Marker, MarkerUpdate, WorkSession, WorkSessionUpdate
    from ..changes import ChangeHandler
    from ..events import Event
    from .locks import HeldLock
    from .marker_sync import MarkerSync
    from .presence import PresenceSession

T = TypeVar("T")


class Client(Operations):
    """The Roboscope API over httpx (`AsyncClient`, and its blocking twin `Client`).

    `url` is the server (`http://127.0.0.1:8080`); `/api/v1` is appended. `transport=` takes
    an httpx transport of the client's flavour (`httpx.ASGITransport(app=app)` talks to an
    app in-process). `token=` is an API token (`roboscope tokens create`), sent as
    `Authorization: Bearer …` on every request, the live stream's included; a server with
    ROBOSCOPE_AUTH=required answers without one `Unauthorized`. Errors raise
    `roboscope.client.ApiError` subclasses; network failures raise `ConnectionFailed`;
    inputs are validated by the wire models before sending (pydantic's `ValidationError`).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        auth = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._http = httpx.Client(
            base_url=api_url(url),
            headers={**HEADERS, **auth, **(headers or {})},
            timeout=timeout,
            transport=DefaultTransport(LIMITS) if transport is None else transport,
            limits=LIMITS,
        )

    @property
    def http(self) -> httpx.Client:
        """The httpx client underneath (its base URL is the API's `/api/v1`)."""
        return self._http

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        """Execute one described call; every answer goes through `raise_for_error`."""
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.body,
                headers=call.headers,
            )
        except httpx.TransportError as error:
            raise unreachable(self.base_url, call, error) from error
        return finish(call, response)

    def update_work_session_with_retry(
        self,
        session_id: Id,
        mutate: Callable[[WorkSession], WorkSessionUpdate | None],
        *,
        lock_token: str | None = None,
        max_attempts: int = 5,
    ) -> WorkSession:
        """Refresh, apply `mutate`, PATCH with the fresh version; retry on 409 (see
        `update_with_retry`)."""
        from .retry import update_with_retry_sync

        return update_with_retry_sync(
            lambda: self.get_work_session(session_id),
            lambda patch: self.update_work_session(session_id, patch, lock_token=lock_token),
            mutate,
            max_attempts=max_attempts,
        )

    def update_marker_with_retry(
        self,
        marker_id: Id,
        mutate: Callable[[Marker], MarkerUpdate | None],
        *,
        lock_token: str | None = None,
        max_attempts: int = 5,
    ) -> Marker:
        """Refresh, apply `mutate`, PATCH with the fresh version; retry on 409 (see
        `update_with_retry`)."""
        from .retry import update_with_retry_sync

        return update_with_retry_sync(
            lambda: self.get_marker(marker_id),
            lambda patch: self.update_marker(marker_id, patch, lock_token=lock_token),
            mutate,
            max_attempts=max_attempts,
        )

    def presence(
        self,
        session_id: Id,
        user_id: str,
        *,
        device_id: str | None = None,
        display_name: str | None = None,
        interval: float = 10.0,
    ) -> PresenceSession:
        """A context manager that beats every `interval` seconds in the background while
        inside and leaves on exit (see docs/sdk.md)."""
        from .presence import PresenceSession

        return PresenceSession(
            self,
            session_id,
            user_id,
            device_id=device_id,
            display_name=display_name,
            interval=interval,
        )

    def hold_lock(
        self,
        session_id: Id,
        ttl_seconds: int = 30,
        *,
        owner: str | None = None,
        extend_every: float | None = None,
    ) -> HeldLock:
        """A context manager that acquires the lock (or raises `LockUnavailable`), extends it
        every `extend_every` seconds (half the TTL by default) and releases it on exit."""
        from .locks import HeldLock

        return HeldLock(
            self, session_id, ttl_seconds=ttl_seconds, owner=owner, extend_every=extend_every
        )

    # Changes and live events

    def events(
        self,
        work_session_id: Id,
        *,
        since: int | None = None,
        ping: float | None = None,
        wait_for_server: bool = True,
    ) -> Iterator[Event]:
        """The session's live events: `presence.snapshot` and `lock.snapshot`, the changes
        after `since` (None: none before now), then live events; resumed by itself after a
        drop with `Last-Event-ID` and backoff. Raises `ReloadRequired` (410) when `since` is
        older than the kept log, `NotFound` for an unknown session; ends after
        `work_session.deleted`. With `wait_for_server=False` a first connection that fails
        raises (`ConnectionFailed`, `Unavailable`) instead of being retried."""
        from .events import follow_events

        return follow_events(
            self._http,
            work_session_id,
            since=since,
            ping=ping,
            wait_for_server=wait_for_server,
        )

    # Sync

    def marker_sync(
        self,
        work_session_id: Id,
        on_change: ChangeHandler,
        *,
        interval: float = 5.0,
        initial: Iterable[Marker] = (),
    ) -> MarkerSync:
        """A context manager that keeps the session's markers in sync while inside (a
        snapshot, then the live stream; polling every `interval` seconds only while the
        stream is unavailable) and calls `on_change` with each change."""
        from .marker_sync import MarkerSync

        return MarkerSync(self, work_session_id, on_change, interval=interval, initial=initial)
