"""What the client commands parse before sending: points, inline JSON objects, JSON files,
non-empty ids; and how input the wire models refuse becomes one usage line naming the option.

Parsed values are wrapped (`Xyz`, `Inline`, `FromFile`) so that click runs the parser (and a
bad value is a usage error that names its option); `value_of` unwraps them.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import ValidationError

from .client.operations.cli import JSON_FILE, NONEMPTY, OBJECT, POINT, URL


@dataclass(frozen=True, slots=True)
class Xyz:
    """A point given as `x,y,z`."""

    values: list[float]


@dataclass(frozen=True, slots=True)
class Inline:
    """A JSON object given inline, e.g. `'{"floor": 2}'`."""

    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FromFile:
    """The JSON a file (or - for standard input) holds."""

    value: Any


def parse_point(text: str) -> Xyz:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not three numbers x,y,z") from None
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise typer.BadParameter(f"{text!r} is not three finite numbers x,y,z")
    return Xyz(values)


def parse_object(text: str) -> Inline:
    try:
        value = json.loads(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not JSON") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object, e.g. '{\"floor\": 2}'")
    return Inline(value)


def nonempty(text: str) -> str:
    if not text:
        raise typer.BadParameter("must not be empty")
    return text


def read_json(path: str, hint: str = "FILE") -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as error:
        raise typer.BadParameter(error.strerror or str(error), param_hint=hint) from None
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint=hint) from None


def parse_json_file(path: str) -> FromFile:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return FromFile(json.loads(text))
    except OSError as error:
        raise typer.BadParameter(error.strerror or str(error)) from None
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}") from None


PARSERS: dict[object, tuple[type, Callable[[str], Any] | None, str | None]] = {
    POINT: (Xyz, parse_point, "X,Y,Z"),
    OBJECT: (Inline, parse_object, "JSON"),
    JSON_FILE: (FromFile, parse_json_file, "FILE"),
    NONEMPTY: (str, nonempty, None),
    URL: (str, None, "URL"),
}
"""Option kinds (operations.cli) → the type click gives the command, its parser, metavar."""


def value_of(given: Any) -> Any:
    """A parsed option as the wire models take it."""
    if isinstance(given, Xyz):
        return given.values
    if isinstance(given, Inline | FromFile):
        return given.value
    return given


def refuse(
    error: ValidationError, spelling: Callable[[str], str], hint: str | None = None
) -> NoReturn:
    """Input the wire models refused before sending: a usage error naming the option (or
    `hint`, e.g. the FILE, followed by the path inside it)."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    path = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".")
    if hint is None:
        hint = spelling(loc[0] if loc else "")
        path = ".".join(loc[1:])
    more = error.error_count() - 1
    message = f"{path}: {first['msg']}" if path else first["msg"]
    raise typer.BadParameter(
        message + (f" (and {more} more)" if more else ""), param_hint=hint
    ) from None
