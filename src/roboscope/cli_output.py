"""How commands print: JSON for scripts (`--json`), aligned text for people.

Lists are tables (one row per item, never wrapped, so grep and awk see whole rows); a single
object is a `field  value` list; `--json` prints the wire JSON (a bare array for lists), as
the API answers it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import typer
from pydantic import BaseModel


def as_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(as_json(value), indent=2, ensure_ascii=False))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Enum):
        return str(value.value)
    if _flat(value):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, BaseModel | Mapping | list):
        return compact(as_json(value))
    return str(value)


def _flat(value: Any) -> bool:
    """A list of plain numbers or strings (a point, device ids): shown comma-separated."""
    return isinstance(value, list) and all(
        isinstance(v, int | float | str) and not isinstance(v, bool) for v in value
    )


def compact(wire: Any) -> str:
    return json.dumps(wire, ensure_ascii=False, separators=(",", ":"))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Aligned columns without borders (rich measures wide characters); never wrapped, so
    every row stays one line for grep and awk. Markup in values is printed verbatim."""
    from rich.console import Console  # only when a table is printed
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*(Text(cell(value)) for value in row))
    console = Console(
        file=sys.stdout, width=100_000, soft_wrap=True, markup=False, emoji=False, highlight=False
    )
    with console.capture() as captured:
        console.print(table)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_object(value: BaseModel) -> None:
    """One `field  value` line per field, in the wire's order (nested values as compact
    JSON on their line)."""
    python = value.model_dump(mode="python")
    wire = value.model_dump(mode="json")
    width = max((len(name) for name in python), default=0)
    for name, field in python.items():
        nested = isinstance(field, Mapping) or (isinstance(field, list) and not _flat(field))
        typer.echo(f"{name:<{width}}  {compact(wire[name]) if nested else cell(field)}")
