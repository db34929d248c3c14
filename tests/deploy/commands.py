"""Helpers for checking deployment files against the code they run."""

from __future__ import annotations

from typing import Any

import typer.main

from roboscope.cli import app


def parsed_command(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The `roboscope` subcommand `argv` runs and its parameters, parsed by the real CLI:
    an unknown command or option, or a value of the wrong type, raises."""
    assert argv and argv[0].rsplit("/", 1)[-1] == "roboscope", argv
    group = typer.main.get_command(app)
    root = group.make_context("roboscope", [], resilient_parsing=True)
    name, *rest = argv[1:]
    command = group.get_command(root, name)  # type: ignore[attr-defined]
    assert command is not None, f"`roboscope {name}` is not a command"
    return name, command.make_context(name, rest, parent=root).params
