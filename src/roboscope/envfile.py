"""Settings files: `VARIABLE=value` lines, the format of systemd's `EnvironmentFile=` and
`docker run --env-file` (deploy/roboscope.env.example is one).

`roboscope --env-file FILE …` reads the file the server's unit reads, so an admin command
acts on the server's database and Redis, whatever the current directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    """The file cannot be read or a line is not `VARIABLE=value`; the message says which."""


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of `path`, in order.

    Blank lines and lines starting with `#` or `;` are comments. A value is taken as written
    after the first `=`, with surrounding blanks dropped; one pair of matching quotes around
    the whole value is removed (systemd removes them, docker keeps them: leave values
    unquoted for files both read).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise EnvFileError(f"{path}: {(error.strerror or str(error)).lower()}") from None
    except UnicodeDecodeError:
        raise EnvFileError(f"{path}: not a text file (UTF-8)") from None
    variables: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not _NAME.fullmatch(name):
            # The line is not shown: it may hold a secret (a URL with its password).
            raise EnvFileError(f"{path}, line {number}: not VARIABLE=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        variables[name] = value
    return variables


def apply_env_file(path: Path, environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the file's variables in `environ`: they win over the ones already there, as an
    `EnvironmentFile=` wins over the unit's `Environment=` (the process runs with exactly
    the server's settings). Worker processes inherit them."""
    environ.update(read_env_file(path))
