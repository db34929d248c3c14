"""`roboscope.client` and `roboscope.wire` import each public name on first use
(roboscope/lazy.py): their tables of where each name lives must be whole and right."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

import pytest

import roboscope.client
import roboscope.wire


@pytest.mark.parametrize("package", [roboscope.client, roboscope.wire], ids=lambda p: p.__name__)
def test_every_public_name_is_found_where_the_table_says(package: ModuleType) -> None:
    homes: dict[str, tuple[str, ...]] = vars(package)["_HOME"]
    listed = [name for names in homes.values() for name in names]
    assert sorted(listed) == sorted(package.__all__)
    assert len(set(listed)) == len(listed)
    for module, names in homes.items():
        home = import_module(module, package.__name__)
        for name in names:
            assert getattr(package, name) is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        roboscope.client.Nothing  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from roboscope.wire import Nothing  # type: ignore[attr-defined]  # noqa: F401
