"""The options every command may take before or after its name, as gh and kubectl users
expect: `roboscope --json spaces list` and `roboscope spaces list --json` mean the same.

Each is defined here once. The root command takes all of them (`--url` and `--token` also
read ROBOSCOPE_URL and ROBOSCOPE_TOKEN); `adopt` adds to each command the ones it uses. A
value given after the command wins over one given before it. One given before a command that
does not use it is refused (a flag that would silently do nothing).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.core import Context, ParameterSource
from typer._click.exceptions import UsageError
from typer._click.globals import get_current_context

from . import DEFAULT_URL
from .envfile import EnvFileError, apply_env_file

URL, TOKEN, JSON, ENV_FILE = "url", "api_token", "json_out", "env_file"
CLIENT = frozenset({URL, TOKEN, JSON})
"""What a command that talks to a server uses."""
FLAGS = {URL: "--url", TOKEN: "--token", JSON: "--json", ENV_FILE: "--env-file"}

_HELP = {
    URL: f"Server URL ('/api/v1' is appended); default: ROBOSCOPE_URL, else {DEFAULT_URL}.",
    TOKEN: "API token, when the server requires one; default: ROBOSCOPE_TOKEN.",
    JSON: "Print JSON (the API's wire form) instead of text, for scripts.",
    ENV_FILE: "Read settings from FILE (VARIABLE=value lines: the server's systemd or docker "
    "env file) over the environment, to act on the server's database.",
}
_META = "roboscope.globals"

TYPER: dict[str, Any] = {"rich_markup_mode": None, "add_completion": False}
"""How every command app is made: plain help text, as gh and kubectl print it (Typer's
boxes wrap long lines and label flags `<bool>`); shell completion only on the root."""


def _apply(ctx: Context, _param: object, value: Path | None) -> Path | None:
    """Load an env file as soon as it is parsed: before ROBOSCOPE_URL and the settings."""
    if value is not None and not ctx.resilient_parsing:
        try:
            apply_env_file(value)
        except EnvFileError as error:
            raise typer.BadParameter(str(error), param_hint="--env-file") from None
    return value


def annotation(name: str, *, root: bool = False) -> Any:
    """The option `name`, for the root command (with its environment variable) or for a
    command (without: the root's reads it, so the environment never outranks a flag)."""
    if name == URL:
        envvar = "ROBOSCOPE_URL" if root else None
        option = typer.Option("--url", envvar=envvar, metavar="URL", help=_HELP[URL])
        return Annotated[str | None, option]
    if name == TOKEN:
        envvar = "ROBOSCOPE_TOKEN" if root else None
        option = typer.Option("--token", envvar=envvar, metavar="TOKEN", help=_HELP[TOKEN])
        return Annotated[str | None, option]
    if name == JSON:
        return Annotated[bool, typer.Option("--json", help=_HELP[JSON])]
    if name == ENV_FILE:
        option = typer.Option(
            "--env-file",
            metavar="FILE",
            help=_HELP[ENV_FILE],
            callback=_apply,
            is_eager=True,
            dir_okay=False,
        )
        return Annotated[Path | None, option]
    raise ValueError(name)


def parameters(names: frozenset[str], *, root: bool = False) -> list[inspect.Parameter]:
    """The options `names` as keyword parameters of a command function (Typer reads them)."""
    return [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=False if name == JSON else None,
            annotation=annotation(name, root=root),
        )
        for name in sorted(names)
    ]


def with_options(command: Callable[..., Any], uses: frozenset[str]) -> Callable[..., Any]:
    """`command` taking the global options `uses` too: they are recorded for `current()`,
    and the ones given before the command that it does not use are refused."""

    @functools.wraps(command)
    def run(*args: Any, **values: Any) -> Any:
        ctx = get_current_context()
        refused = [name for name in explicit_root_options(ctx) if name not in uses]
        if refused:
            raise UsageError(f"{FLAGS[refused[0]]} does not apply to `{ctx.command_path}`", ctx)
        ctx.meta[_META] = {name: values.pop(name) for name in uses}
        return command(*args, **values)

    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name not in uses]
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*own, *parameters(uses)]
    )
    return run


def explicit_root_options(ctx: Context) -> list[str]:
    """The global options given on the command line before the command."""
    root = ctx.find_root()
    return [
        name
        for name in FLAGS
        if name in root.params and root.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]


@dataclass(frozen=True, slots=True)
class Globals:
    """The global options' values for the running command."""

    url: str = DEFAULT_URL
    token: str | None = None
    json: bool = False


def current() -> Globals:
    """What the running command should use: its own option, else the root's (which reads
    the environment), else the default."""
    ctx = get_current_context()
    own = ctx.meta.get(_META, {})
    root = ctx.find_root().params

    def pick(name: str) -> Any:
        mine = own.get(name)
        return mine if mine not in (None, False) else root.get(name)

    url, token = pick(URL), pick(TOKEN)
    if url and not str(url).startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{url!r} is not an http:// or https:// URL", param_hint="--url / ROBOSCOPE_URL"
        )
    return Globals(
        url=str(url) if url else DEFAULT_URL,
        token=str(token) if token else None,
        json=bool(pick(JSON)),
    )
