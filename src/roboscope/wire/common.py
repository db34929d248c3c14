"""The docs/contract.md rules that every body shares, encoded once.

- timestamps go out as `2026-11-28T00:53:48Z` (UTC, no fraction) and come in as any RFC 3339;
- points are exactly three finite numbers;
- `meta`-like objects are JSON objects, `{}` when empty;
- NaN and Infinity are refused anywhere (`allow_inf_nan=False` reaches into nested JSON too);
- text must be storable: no NUL characters and no lone surrogates (PostgreSQL rejects both,
  which would otherwise surface as a 500).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

INT64_MAX = 2**63 - 1


def as_utc(value: datetime) -> datetime:
    """Naive datetimes (SQLite hands them back) are UTC by construction; aware ones convert."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """`2026-11-28T00:53:48Z`; an f-string, several times faster than `strftime`. A naive
    value is UTC already (`as_utc`): its fields are formatted as they are."""
    t = value if value.tzinfo is None or value.tzinfo is UTC else value.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def _input_as_utc(value: datetime) -> datetime:
    """`as_utc` for client input: an offset at the year limits (`0001-01-01T00:00:00+01:00`)
    has no UTC form in `datetime`'s range, a 422 rather than an `OverflowError` (a 500)."""
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


def _not_a_number(value: Any) -> Any:
    """pydantic would read a JSON number as Unix time: `0` is not a timestamp here."""
    if isinstance(value, int | float):
        raise ValueError("must be an RFC 3339 date-time string")
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_not_a_number),
    AfterValidator(_input_as_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    # What answers carry, exactly (the serializer alone documents a bare string); input
    # takes any RFC 3339 date-time, as pydantic documents it.
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
            "description": "RFC 3339 in UTC, without fractional seconds.",
            "examples": ["2026-11-28T00:53:48Z"],
        },
        mode="serialization",
    ),
]


def storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        storable_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key)
            _storable_json(item)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item)
    return value


Text = Annotated[str, AfterValidator(storable_text)]
"""Any client text: stored and echoed verbatim."""

Name = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(storable_text)]


def _empty_url_is_absent(value: Any) -> Any:
    return None if value == "" else value


Url = Annotated[
    Annotated[str, Field(max_length=4096), AfterValidator(storable_text)] | None,
    BeforeValidator(_empty_url_is_absent),
]
"""Absent URLs are `null`, never `""` (the app shows a badge for any non-null URL)."""

JsonObject = Annotated[dict[str, JsonValue], AfterValidator(_storable_json)]
"""A free-form JSON object (`meta`, `custom_props`): `{}` when empty, never null."""


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


Number = Annotated[float, BeforeValidator(_json_number)]
"""A finite JSON number; booleans and numeric strings are refused."""

Point = Annotated[list[Number], Field(min_length=3, max_length=3)]
"""Exactly three numbers: the app indexes [0], [1], [2] and crashes on fewer."""


def _not_a_boolean(value: Any) -> Any:
    """pydantic would read `false` as 0: a client bug must not pass as "version 0"."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


Version = Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_not_a_boolean)]


class WireModel(BaseModel):
    """Base of every body: unknown keys are ignored (clients may send more than we read)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore", populate_by_name=True)


class ErrorBody(WireModel):
    """Every error answer: `{"error": code, "message": text}`, some with a field or two more
    (`wire/errors.py` has one model per status)."""

    error: str = Field(description="A stable code to branch on, e.g. `not_found`.")
    message: str = Field(description="A short sentence for people; never echoes the input.")


def _document_required_when_present(schema: dict[str, Any], model: type[Any]) -> None:
    """In the JSON schema, a `required_when_present` field may be absent but never `null`:
    drop the `null` branch (and the `null` default) the `X | None` typing brings."""
    properties = schema.get("properties", {})
    for name in getattr(model, "required_when_present", ()):
        field = properties.get(name)
        if field is None or "anyOf" not in field:
            continue
        field.pop("default", None)
        branches = [branch for branch in field.pop("anyOf") if branch.get("type") != "null"]
        if len(branches) == 1:
            field.update(branches[0])
        else:
            field["anyOf"] = branches


class Patch(WireModel):
    """A partial update: absent fields stay unchanged, present ones are written.

    Fields that are required on the resource are typed `X | None` here only so they can be
    absent; sending them as `null` is refused (`required_when_present`), and the OpenAPI
    document says so.
    """

    model_config = ConfigDict(json_schema_extra=_document_required_when_present)
    required_when_present: ClassVar[frozenset[str]] = frozenset()
    version: Version | None = Field(
        default=None, description="Expected current version; omitted means unchecked."
    )

    @model_validator(mode="after")
    def _refuse_null_for_required(self) -> Self:
        nulls = sorted(
            name
            for name in self.model_fields_set & self.required_when_present
            if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, without `version`, as Python values for storage."""
        sent = self.model_fields_set - {"version"}
        return {name: getattr(self, name) for name in sent}
