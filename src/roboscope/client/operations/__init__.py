"""Every API operation, described once: what to send, what comes back, and how the CLI offers
it (its command, options and their help lines).

From these descriptions, `scripts/unasync_client.py` writes the methods of `AsyncClient` (and
so of the blocking `Client`), and `cli_client.py` builds the client commands at run time. A
new operation is one entry in `resources.py` or `realtime.py` (and a generation run); nothing
else repeats it. A module is imported when one of its operations is first used: a program
that only asks for the health report loads neither the resources' descriptions nor their
wire models.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from .._calls import Operation

MODULES = ("realtime", "resources")
"""The modules that describe operations."""


def described(*names: str) -> dict[str, tuple[ModuleType, Operation[Any]]]:
    """Every operation of the modules `names` (all of them by default) by its SDK method
    name, with the module that describes it."""
    modules = [import_module(f".{name}", __name__) for name in names or MODULES]
    return {
        name: (module, value)
        for module in modules
        for name, value in vars(module).items()
        if isinstance(value, Operation)
    }
