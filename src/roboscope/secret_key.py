"""The server's secret key, which signs the live stream's query tokens (HMAC-SHA256).

`ROBOSCOPE_SECRET_KEY` when set: processes on several hosts must all be given the same one.
Otherwise `secret.key` in the data dir, made once (32 random bytes, URL-safe base64, file
mode 0600) by the first process that needs it and read by every later one: the workers of
a host and every restart sign with the same key, so a browser's query token outlives a
server restart (it is checked by its signature, not looked up anywhere).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from .files import private_dir, private_file
from .settings import Settings

KEY_FILE = "secret.key"
MIN_KEY_LENGTH = 32


class SecretKeyError(Exception):
    """The key cannot be had: the message says why and what to do, in one line."""


def server_key(settings: Settings) -> bytes:
    """The key this process signs with (see the module docstring)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return _key_file(settings.data_dir)


def fingerprint(key: bytes) -> str:
    """A short name for a key that reveals nothing about it: processes compare these to
    find out whether they sign alike."""
    return hmac.new(key, b"roboscope key fingerprint", hashlib.sha256).hexdigest()[:16]


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        private_dir(data_dir)
        if not path.exists():
            _create(path)
        private_file(path)  # a copied file may have come with looser permissions
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(
            f"the secret key cannot be kept in {path} ({error}): make the data dir writable "
            "or set ROBOSCOPE_SECRET_KEY"
        ) from None
    if len(text) < MIN_KEY_LENGTH:
        raise SecretKeyError(
            f"{path} holds no usable key (fewer than {MIN_KEY_LENGTH} characters): delete it "
            "to have a new one made, or set ROBOSCOPE_SECRET_KEY"
        )
    return text.encode()


def _create(path: Path) -> None:
    """Write a new key beside `path` and link it into place: if several processes start at
    once, exactly one key wins and nobody ever reads a half-written file."""
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process's came first: theirs
            os.link(scratch, path)
    finally:
        os.unlink(scratch)
