"""Keyset paging for list answers, and lists handed to the edge to convert in chunks.

Lists are ordered by id (UUIDv7, so creation order). A page asks for `limit` rows after the
`cursor`; the cursor is the last id of the previous page, base64url-encoded so clients treat
it as opaque. One extra row is read to learn whether a next page exists: no COUNT(*).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from ..errors import InvalidInput

T = TypeVar("T")


class ListTooLarge(InvalidInput):
    code = "list_too_large"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`limit` None: the whole list (after `after`)."""

    limit: int | None = None
    after: UUID | None = None

    @property
    def fetch(self) -> int | None:
        """Rows to read: one more than the page, to tell whether another page follows."""
        return None if self.limit is None else self.limit + 1


WHOLE_LIST = PageRequest()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Rows of one answer with the function that turns a row into its wire model.

    The edge converts and encodes the rows a chunk at a time, so a long list never holds
    the event loop for the whole of it.
    """

    rows: Sequence[Any]
    convert: Callable[[Any], T]
    next_cursor: str | None = None
    change_cursor: int | None = None
    """The change log cursor the rows are as of (snapshot reads: `X-Roboscope-Cursor`)."""

    def items(self) -> list[T]:
        return [self.convert(row) for row in self.rows]


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A page encoded as it was read: JSON arrays of consecutive items (a batch of rows
    each), which the edge sends as one array. A long list is then held once, as its bytes,
    not as rows, models and bytes at the same time."""

    chunks: Sequence[bytes]
    next_cursor: str | None = None
    change_cursor: int | None = None


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(raw) == 16:
            return UUID(bytes=raw)
    except (binascii.Error, ValueError):
        pass
    raise InvalidInput("cursor is not one this server handed out; start again without it")


def page_request(max_items: int, *, limit: int | None, cursor: str | None) -> PageRequest:
    if limit is not None and not 1 <= limit <= max_items:
        raise InvalidInput(f"limit must be between 1 and {max_items}")
    return PageRequest(limit=limit, after=None if cursor is None else decode_cursor(cursor))


def page(
    rows: Sequence[Any],
    request: PageRequest,
    convert: Callable[[Any], T],
    row_id: Callable[[Any], UUID],
    *,
    change_cursor: int | None = None,
) -> Page[T]:
    """The page of `rows` (read with `request.fetch`), and the cursor of the next one."""
    if request.limit is None or len(rows) <= request.limit:
        return Page(rows, convert, change_cursor=change_cursor)
    rows = rows[: request.limit]
    return Page(rows, convert, encode_cursor(row_id(rows[-1])), change_cursor)
