"""The `roboscope` command: serve, migrate, and talk to a server.

Server commands live in `cli_server.py` (their heavy imports inside the commands), client
commands in `cli_client.py`; this module assembles them under one entry point and owns what
is global: `--url`, `--version`, and how errors end the process (one line on stderr; exit 2
for usage errors, the command's own status otherwise).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

# Typer vendors click (typer._click) and exports only part of it; the exception classes
# used below are not re-exported, so they come from there.
from typer._click import exceptions as errors
from typer.core import TyperGroup, TyperOption

from .cli_client import register
from .cli_server import db_app, serve, tokens_app
from .client._base import sdk_version


def usage_line(error: errors.UsageError) -> str:
    """A usage error as one line that names the option or argument at fault."""
    if isinstance(error, errors.BadParameter):
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
        if isinstance(error, errors.MissingParameter):
            return f"{hint}: required" if hint else error.format_message()
        return f"{hint}: {message}" if hint else message
    command = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return error.format_message() + command


class Roboscope(TyperGroup):
    """The root group: errors end the process the same way everywhere."""

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
        try:
            outcome = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except errors.NoArgsIsHelpError as error:
            # The help was shown already (rich prints it while the error is made).
            message = error.format_message()
            if message:
                typer.echo(message)
            code = 2
        except errors.UsageError as error:
            typer.echo(f"error: {usage_line(error)}", err=True)
            code = 2
        except errors.ClickException as error:
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


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"roboscope {sdk_version()}")
        raise typer.Exit()


app = typer.Typer(
    cls=Roboscope,
    help="Roboscope API server and tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="ROBOSCOPE_URL",
            help="Server URL for the client commands ('/api/v1' is appended).",
            show_default="http://127.0.0.1:8080",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ROBOSCOPE_TOKEN",
            help="API token for the client commands, when the server requires one.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Roboscope API server and tools."""


app.command()(serve)
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")
register(app)
