"""Local files of the embedded default: private to the user who runs the server.

The data dir holds the database, its WAL and the Redis socket and log, so it is created
`0700` and those files `0600`, whatever the umask (a shared machine must not read them).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) `0700`; an existing folder is left as it is."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty `0600` if missing; tighten it to `0600` if it exists and is ours."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    with contextlib.suppress(OSError):
        status = path.stat()
        if status.st_uid == os.getuid() and status.st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE)
    return path
