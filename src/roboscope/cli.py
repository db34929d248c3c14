"""The `roboscope` command: serve, migrate, manage tokens, and talk to a server.

This module owns what is global: the options every command takes before or after its name
(`cli_globals.py`), `--version`, and how errors end the process (one line on stderr; exit 2
for usage errors, the command's own status otherwise). The commands themselves are loaded
when they are run (a table below names their modules), so `roboscope --version` imports
nothing else and a client command never imports the server, the database layer or Alembic.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Annotated, Any

import typer

# Typer vendors click (typer._click) and exports only part of it; the classes used below
# are not re-exported, so they come from there.
from typer._click.core import Command, Context, Parameter
from typer._click.exceptions import (
    BadParameter,
    ClickException,
    MissingParameter,
    NoArgsIsHelpError,
    UsageError,
)
from typer.core import TyperGroup, TyperOption
from typer.models import CommandInfo

from . import __version__
from .cli_globals import CLIENT, ENV_FILE, JSON, parameters, with_options


@dataclass(frozen=True, slots=True)
class Lazy:
    """A command (or group) loaded on first use: `module.attribute`, a Typer app or a
    function that makes the app of a command name."""

    module: str
    attribute: str
    uses: frozenset[str]
    """The global options its commands take."""
    silent: frozenset[str] = frozenset()
    """Its commands that print nothing to format: no `--json` (a command function may say
    which options it takes in its `uses` attribute instead)."""


_DB = frozenset({ENV_FILE})
COMMANDS: dict[str, Lazy] = {
    "serve": Lazy("roboscope.cli_server", "serve_app", _DB),
    "db": Lazy("roboscope.cli_database", "db_app", _DB),
    "tokens": Lazy("roboscope.cli_server", "tokens_app", _DB | {JSON}, frozenset({"revoke"})),
    **{
        name: Lazy("roboscope.cli_client", "app", CLIENT)
        for name in (
            "health",
            "whoami",
            "spaces",
            "sessions",
            "markers",
            "details",
            "anchors",
            "laser-guide",
            "reference-sets",
            "presence",
            "lock",
        )
    },
    "watch": Lazy("roboscope.cli_watch", "watch_app", CLIENT),
}


def usage_line(error: UsageError) -> str:
    """A usage error as one line that names the option or argument at fault."""
    if isinstance(error, BadParameter):
        message = error.message.removeprefix("Value error, ")  # pydantic's wording
        hint = error.param_hint
        if hint is None and error.param is not None:
            param = error.param
            if isinstance(param, TyperOption):
                hint = max(param.opts, key=len)
            else:  # an argument, named as in the usage line
                hint = param.metavar or (param.name or "").upper()
        if not isinstance(hint, str) and hint is not None:
            hint = " / ".join(hint)
        if isinstance(error, MissingParameter):
            return f"{hint}: required" if hint else error.format_message()
        return f"{hint}: {message}" if hint else message
    command = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return error.format_message() + command


_ADOPTED = "__roboscope_adopted__"


def _adopt(app: typer.Typer, entry: Lazy) -> None:
    """Give each command of a Typer app the global options it uses (once per app)."""
    for info in app.registered_commands:
        _adopt_command(info, entry)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _adopt(group.typer_instance, entry)


def _adopt_command(info: CommandInfo, entry: Lazy) -> None:
    if info.callback is None or getattr(info.callback, _ADOPTED, False):
        return
    name = info.name or info.callback.__name__
    uses = entry.uses - {JSON} if name in entry.silent else entry.uses
    uses = getattr(info.callback, "uses", uses)  # what a built command says it takes
    info.callback = with_options(info.callback, uses)
    setattr(info.callback, _ADOPTED, True)


class Roboscope(TyperGroup):
    """The root group: commands loaded on first use, and errors that end the process the
    same way everywhere."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            entry = COMMANDS[cmd_name]
            found = getattr(import_module(entry.module), entry.attribute)
            # A Typer app, or a function that makes the one of `cmd_name`.
            app = found if isinstance(found, typer.Typer) else found(cmd_name)
            _adopt(app, entry)
            loaded = typer.main.get_command(app)
            loaded.name = cmd_name
            self.commands[cmd_name] = loaded
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code: int
        # httpx imports its own command-line tool (click, rich, pygments: a sixth of a client
        # command's start-up) whenever they are installed. No roboscope command runs it: here
        # that import fails, and httpx defines its stub `main` instead.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
        try:
            outcome = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except NoArgsIsHelpError as error:
            # The help was shown already (rich prints it while the error is made).
            message = error.format_message()
            if message:
                typer.echo(message)
            code = 2
        except UsageError as error:
            typer.echo(f"error: {usage_line(error)}", err=True)
            code = 2
        except ClickException as error:
            typer.echo(f"error: {error.format_message()}", err=True)
            code = error.exit_code
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        else:
            code = outcome if isinstance(outcome, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _print_version(ctx: Context, _param: Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        typer.echo(f"roboscope {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=Roboscope,
    help="Roboscope API server and tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def main(**_options: Any) -> None:
    """Roboscope API server and tools."""


main.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        *parameters(frozenset({*CLIENT, ENV_FILE}), root=True),
        inspect.Parameter(
            "version",
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=Annotated[
                bool,
                typer.Option(
                    "--version",
                    callback=_print_version,
                    is_eager=True,
                    help="Print the version and exit.",
                ),
            ],
        ),
    ]
)
app.callback()(main)
