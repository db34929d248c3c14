"""Every API operation, described once: what to send, what comes back, and how the CLI offers
it (its command, options and their help lines).

From these descriptions, `scripts/unasync_client.py` writes the methods of `AsyncClient` (and
so of the blocking `Client`), and `cli_client.py` builds the client commands at run time. A
new operation is one entry in `resources.py` or `realtime.py` (and a generation run); nothing
else repeats it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .._calls import Operation
from . import realtime, resources

MODULES: tuple[ModuleType, ...] = (realtime, resources)


def described() -> dict[str, tuple[ModuleType, Operation[Any]]]:
    """Every operation by its SDK method name, with the module that describes it."""
    return {
        name: (module, value)
        for module in MODULES
        for name, value in vars(module).items()
        if isinstance(value, Operation)
    }
