"""Packages whose public names are imported on first use.

`roboscope.client` and `roboscope.wire` publish many names from many modules. Importing them
all up front cost a CLI command more than its own work (building some sixty pydantic models,
the async client, asyncio), so each name is imported from its module when it is first asked
for. The package lists its names in `__all__`, imports them under `TYPE_CHECKING` (for type
checkers, from which its `__getattr__` is hidden: a name that is not there stays an error)
and says where each lives in a table that a test holds to `__all__`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from importlib import import_module
from typing import Any


def exports(
    package: str, homes: Mapping[str, tuple[str, ...]], namespace: MutableMapping[str, Any]
) -> Callable[[str], Any]:
    """The package's `__getattr__`: a name of `homes` (module → names) is imported from its
    module on first use, then kept in `namespace` (the package's globals)."""
    module_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = namespace[name] = getattr(import_module(module, package), name)
        return value

    return __getattr__
