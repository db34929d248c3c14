"""Columns read as the text lists send, made by the database instead of per value in Python.

A marker list reads thousands of rows; turning each stored id into a `UUID`, each timestamp
into a `datetime` and back into text, and decoding each JSON column by itself was most of
its time (docs/performance.md). These expressions have the database hand back the text
itself: ids in their canonical form, timestamps as CONTRACT.md sends them (UTC, to the
second, `Z`: what `wire.common.format_timestamp` makes), and a row's JSON columns as one
JSON array. tests/api/test_marker_encoding.py holds a list's bytes to the validated
models' on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class uuid_text(FunctionElement[str]):  # an SQL function, named like one
    """`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case."""

    type = Text()
    inherit_cache = True


class utc_text(FunctionElement[str]):
    """`2026-11-28T00:53:48Z`: UTC, the fraction cut off (not rounded), as `format_timestamp`."""

    type = Text()
    inherit_cache = True


@compiles(uuid_text)
def _uuid_text(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL's native uuid prints in the canonical form.
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(uuid_text, "sqlite")
def _uuid_text_sqlite(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores a UUID on SQLite as its 32 hex digits (`UUID.hex`, lower case).
    value = compiler.process(element.clauses, **kw)
    parts = [f"substr({value}, {start}, {length})" for start, length in _UUID_GROUPS]
    return " || '-' || ".join(parts)


_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


@compiles(utc_text)
def _utc_text(element: utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"""to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@compiles(utc_text, "sqlite")
def _utc_text_sqlite(element: utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores `YYYY-MM-DD HH:MM:SS.ffffff` on SQLite, UTC by construction
    # (`wire.common.as_utc`): the date, a `T`, the time to the second, a `Z`.
    value = compiler.process(element.clauses, **kw)
    return f"substr({value}, 1, 10) || 'T' || substr({value}, 12, 8) || 'Z'"


def json_array_text(columns: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    """The JSON columns' values as the text of one JSON array, SQL NULL as `null`: a list's
    rows are then parsed in one call instead of one per column (each call has a fixed cost
    that dwarfs parsing a point)."""
    text: ColumnElement[str] = literal_column("'['", Text)
    for n, column in enumerate(columns):
        if n:
            text = text + literal_column("','", Text)
        text = text + func.coalesce(cast(column, Text), literal_column("'null'", Text))
    return text + literal_column("']'", Text)
