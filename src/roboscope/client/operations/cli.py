"""How the CLI offers an operation: the spelling and help line of each option, and what a
command does beyond calling the SDK (pages, a file body, a check of the answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ...wire import SessionType, WorkSessionStatus

POINT, OBJECT, JSON_FILE, URL, SWITCH, TOGGLE, NONEMPTY = (
    "point",
    "object",
    "json file",
    "url",
    "switch",
    "toggle",
    "nonempty",
)
"""Option kinds beyond plain types: `x,y,z`; an inline JSON object; a JSON file (or -);
a URL where '' clears it; a flag that is off unless given; `--x/--no-x`; non-empty text."""


@dataclass(frozen=True, slots=True)
class Option:
    """A command's option (`--space`) or argument (`TOKEN`, upper case) for one input."""

    flag: str
    help: str
    kind: object = str
    """A type (str, int, float, UUID, an enum) or one of the kinds above."""
    minimum: int | None = None


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]
    """`("spaces", "get")` is `roboscope spaces get`."""
    help: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    helps: Mapping[str, str] = field(default_factory=dict)
    """Help lines of this command's options, where the shared one would mislead."""
    pages: str | None = None
    """The SDK method that answers one page of this list (`--limit`, `--all` follow it)."""
    unversioned: str | None = None
    """Without `--version`, this SDK method applies the change to the current version."""
    from_file: bool = False
    """The body is a JSON file (FILE, or - for standard input); for a body made of one list,
    a file holding that list."""
    fill: Mapping[str, Option] = field(default_factory=dict)
    """Options that fill a field of each item of that list where the file leaves it out."""
    check: str | None = None
    """A check of the answer that decides the exit status (cli_client.CHECKS)."""
    text: str | None = None
    """How the answer is shown as text, when not as `field  value` lines (cli_client.TEXT)."""


FIELDS: dict[str, Option] = {
    # spaces
    "key": Option("--key", "Unique key, e.g. hall-a."),
    "name": Option("--name", "The name people see."),
    "description": Option("--description", "Free text."),
    "meta": Option("--meta", "A JSON object, e.g. '{\"floor\": 2}' (replaces meta).", OBJECT),
    "model_glb_url": Option("--model-glb-url", "A URL; '' clears it.", URL),
    "model_usdc_url": Option("--model-usdc-url", "A URL; '' clears it.", URL),
    "preview_url": Option("--preview-url", "A URL; '' clears it.", URL),
    "scan_url": Option("--scan-url", "A URL; '' clears it.", URL),
    "ml_model_url": Option("--ml-model-url", "A URL; '' clears it.", URL),
    "is_active": Option("--active/--inactive", "Show or hide it in lists.", TOGGLE),
    # work sessions
    "space_id": Option("--space", "The space's id.", UUID),
    "session_type": Option("--type", "What the session is for.", SessionType),
    "status": Option("--status", "The session's status.", WorkSessionStatus),
    "version": Option(
        "--version",
        "Expected current version: a stale one fails (409). Omit to apply the change to the "
        "current version, retried on conflict.",
        int,
    ),
    # markers
    "work_session_id": Option("--session", "The work session's id.", UUID),
    "label": Option("--label", "A label shown in the app."),
    "color": Option("--color", "A color, e.g. #ff0000."),
    "p1": Option("--p1", "First corner.", POINT),
    "p2": Option("--p2", "Second corner.", POINT),
    "p3": Option("--p3", "Third corner.", POINT),
    "p4": Option("--p4", "Fourth corner.", POINT),
    "custom_props": Option("--custom-props", "A JSON object of app properties.", OBJECT),
    "lock_token": Option(
        "--lock-token", "Send as X-Lock-Token: the write needs the session's lock."
    ),
    # anchors
    "session_id": Option("--session", "The work session's id.", UUID),
    "run": Option("--run", "The run number.", int),
    "local_z": Option("--local-z", "The local z (matched exactly).", float),
    "world_position": Option("--position", "World position.", POINT),
    # reference sets
    "markers": Option(
        "--markers",
        "A JSON file (or -) with the list of markers, each {p1..p4, label, color, id}.",
        JSON_FILE,
    ),
    # presence and locks
    "user_id": Option("--user", "Your user id (kept verbatim).", NONEMPTY),
    "device_id": Option("--device", "Your device id (kept verbatim).", NONEMPTY),
    "display_name": Option("--display-name", "Shown to the others."),
    "ttl_seconds": Option("--ttl", "Seconds until it expires unless extended.", int, minimum=1),
    "owner": Option("--owner", "Shown to others in `lock status`."),
    "token": Option("TOKEN", "The token from `lock acquire`.", NONEMPTY),
}
"""The shared spelling and help line of each input and body field the CLI offers; a body
field missing here is set from a file only."""
