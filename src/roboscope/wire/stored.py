"""Our own rows in their wire form, without building (or validating) a model per row.

A marker list answers thousands of rows, every value of which was validated on its way in.
Building a model per row only to encode it, with pydantic-core calling back into Python for
each timestamp, was most of a list's time after the query (docs/performance.md).
`WireForm(Model)` turns a stored row into what the model's JSON encoding would be, as plain
data: every field in the model's order, timestamps formatted by `format_timestamp`, nested
models alike, every other value as stored. `pydantic_core.to_json` encodes that byte for byte
as it encodes the model (tests/api/test_marker_encoding.py holds the two together).

It refuses, when it is made, a model it cannot mirror exactly (a serializer other than the
timestamps', an alias), so the contract's rules stay in wire/common.py alone.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, PlainSerializer

from .common import format_timestamp

Convert = Callable[[Any], Any]


class WireForm:
    def __init__(self, model: type[BaseModel]) -> None:
        if model.__pydantic_decorators__.field_serializers or (
            model.__pydantic_decorators__.model_serializers
        ):
            raise TypeError(f"{model.__name__} has serializers of its own")
        self.model = model
        self._names = tuple(model.model_fields)
        self._converted: list[tuple[str, Convert]] = []  # the fields not sent as stored
        for name, field in model.model_fields.items():
            if field.alias not in (None, name) or field.serialization_alias not in (None, name):
                raise TypeError(f"{model.__name__}.{name} has an alias")
            convert = _convert(model, name, field.annotation, field.metadata)
            if convert is not None:
                self._converted.append((name, convert))

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The wire form of `values` (every field of the model, by name)."""
        form = {name: values[name] for name in self._names}
        for name, convert in self._converted:
            value = form[name]
            if value is not None:
                form[name] = convert(value)
        return form


def _convert(
    model: type[BaseModel], name: str, annotation: Any, metadata: list[Any]
) -> Convert | None:
    """How a field's stored value becomes its wire form: None when it goes as it is."""
    serializers = [m for m in metadata if isinstance(m, PlainSerializer)]
    if serializers:
        if len(serializers) == 1 and serializers[0].func is format_timestamp:
            return format_timestamp
        raise TypeError(f"{model.__name__}.{name} has a serializer of its own")
    members = _members(annotation) - {type(None)}
    if len(members) == 1:
        [member] = members
        if typing.get_origin(member) is typing.Annotated:
            inner, *more = typing.get_args(member)
            return _convert(model, name, inner, more)
        if isinstance(member, type) and issubclass(member, BaseModel):
            return WireForm(member)
    if _mentions_model(annotation):
        raise TypeError(f"{model.__name__}.{name}: models inside containers or unions")
    return None


def _members(annotation: Any) -> set[Any]:
    """The types of a union (`X | None`), or the annotation alone."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation))
    return {annotation}


def _mentions_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(arg) for arg in typing.get_args(annotation))
