"""Generate the client's code from its sources, then ruff:

1. `client/_async/operations.py`, one async method per operation described in
   `src/roboscope/client/operations/` (the description the CLI is built from too);
2. the blocking client from the async one: `client/_async/` → `client/_sync/`, with the
   `unasync` package (as httpcore does).

    python scripts/unasync_client.py          # write the generated files
    python scripts/unasync_client.py --check  # fail if they differ from what would be generated

`./dev lint` runs the check, so a hand edit of a generated file (or a change to a source that
was not regenerated) fails lint. Beyond unasync's own renames (`__aenter__`, `async`, `await`,
…) the renames below map each async name to its blocking twin; `client/_concurrency.py`
and `client/_transport.py` hold the hand-written pairs (asyncio tasks and threads, the two
httpx transports) the renames point at.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import io
import keyword
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import tokenize
import types
from pathlib import Path
from typing import Any

try:
    import unasync
except ImportError:  # pragma: no cover - a set-up problem, said plainly
    raise SystemExit(
        "scripts/unasync_client.py needs the unasync package (the dev extra): "
        "pip install 'unasync>=0.6'"
    ) from None

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "roboscope" / "client" / "_async"
TARGET = ROOT / "src" / "roboscope" / "client" / "_sync"

RENAMES = {
    # the client and its behaviours
    "AsyncClient": "Client",
    "AsyncOperations": "Operations",
    "AsyncBaseTransport": "BaseTransport",
    "AsyncDefaultTransport": "DefaultTransport",
    "AsyncPresenceSession": "PresenceSession",
    "AsyncHeldLock": "HeldLock",
    "AsyncMarkerSync": "MarkerSync",
    "AsyncChangeHandler": "ChangeHandler",
    "aclose": "close",
    "update_with_retry": "update_with_retry_sync",
    # the primitives of _concurrency.py
    "AsyncBackground": "Background",
    "AsyncEvent": "Event",
    "AsyncMutex": "Mutex",
    "AsyncFetch": "Fetch",
    "AsyncSend": "Send",
    "async_sleep": "sleep",
    "async_cleanup": "cleanup",
    "async_notify": "notify",
    # httpx-sse and httpx
    "aconnect_sse": "connect_sse",
    "aiter_sse": "iter_sse",
    "aread": "read",
}

HEADER = (
    "# Generated from client/_async/{name} by scripts/unasync_client.py: do not edit.\n"
    "# Edit the async source, then run `python scripts/unasync_client.py`.\n"
)
OPERATIONS = "operations.py"
OPERATIONS_HEADER = (
    "# Generated from client/operations/ by scripts/unasync_client.py: do not edit.\n"
    "# Edit the descriptions there, then run `python scripts/unasync_client.py`.\n"
)
# Where the names in the described types live, searched in this order.
TYPE_HOMES = (
    "roboscope.client._calls",
    "roboscope.client.events",
    "roboscope.wire",
    "roboscope.wire.common",
    "roboscope.wire.changes",
    "roboscope.wire.locks",
    "roboscope.wire.presence",
    "roboscope.wire.tokens",
    "roboscope.wire.markers",
    "collections.abc",
)
BUILTINS = {"None", "bool", "int", "float", "str", "list", "dict"}

# Tokens that must not survive into blocking code (a rename missing from RENAMES would
# otherwise become unasync's default `Sync…` name or leave asyncio in a thread).
FORBIDDEN_PREFIXES = ("Async", "async_", "Sync")
FORBIDDEN = {"async", "await", "asyncio"}


def _ruff(args: list[str], source: str, filename: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(filename), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff {' '.join(args)} failed on {filename}:\n{done.stderr}")
    return done.stdout


def _check_tokens(source: str, filename: Path) -> None:
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.NAME:
            continue
        if token.string in FORBIDDEN or token.string.startswith(FORBIDDEN_PREFIXES):
            raise SystemExit(
                f"{filename.relative_to(ROOT)}:{token.start[0]}: `{token.string}` left in the "
                "blocking code; add its blocking twin to RENAMES in scripts/unasync_client.py"
            )


def _relative(module: str) -> str:
    """How `client/_async/operations.py` imports `module`."""
    if module.startswith("roboscope.client."):
        return ".." + module.removeprefix("roboscope.client.")
    if module.startswith("roboscope."):
        return "..." + module.removeprefix("roboscope.")
    return module


def _method(name: str, home: str, operation: Any) -> str:
    """One async method that sends the call `operation` makes of its arguments."""
    positional = [given for given in operation.inputs if not given.keyword]
    keyword_only = [given for given in operation.inputs if given.keyword]

    def param(given: Any) -> str:
        default = f" = {given.default}" if given.default is not None else ""
        return f"{given.name}: {given.annotation}{default}"

    params = ["self", *map(param, positional), *(["*"] if keyword_only else [])]
    params += map(param, keyword_only)
    arguments = ", ".join(f"{given.name}={given.name}" for given in operation.inputs)
    call = f"self._send({home}.{name}.call({arguments}))"
    returns = operation.answer.annotation
    lines = [f"    async def {name}({', '.join(params)}) -> {returns}:"]
    if operation.doc:
        doc = textwrap.fill(operation.doc, 88, break_long_words=False, break_on_hyphens=False)
        lines.append(textwrap.indent(f'"""{doc}"""', " " * 8))
    lines.append(f"        from ..operations import {home}")
    lines.append("")
    lines.append(f"        {'await' if returns == 'None' else 'return await'} {call}")
    return "\n".join(lines)


def _home_of(module: Any, name: str) -> bool:
    """`module` is where `name` is defined or published (not merely imported)."""
    value = getattr(module, name, None)
    if value is None:
        return False
    if name in getattr(module, "__all__", ()):
        return True
    if isinstance(value, type | types.FunctionType):
        return getattr(value, "__module__", None) == module.__name__
    return True  # a type alias (Annotated, a union, a Literal): the first module naming it


def generate_operations() -> str:
    """`client/_async/operations.py`: a method per operation of client/operations/."""
    # The description is read without running client/__init__.py, which imports the client
    # this very file completes (it may be missing or stale now).
    sys.path.insert(0, str(ROOT / "src"))
    package = types.ModuleType("roboscope.client")
    package.__path__ = [str(SOURCE.parent)]
    sys.modules.setdefault("roboscope.client", package)
    described = importlib.import_module("roboscope.client.operations").described()
    homes = [importlib.import_module(module) for module in TYPE_HOMES]
    methods, names = [], set()
    for name, (module, operation) in described.items():
        home = module.__name__.rsplit(".", 1)[1]
        methods.append(_method(name, home, operation))
        for given_type in [given.annotation for given in operation.inputs]:
            names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", given_type))
        names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", operation.answer.annotation))
    imports = [
        "from abc import ABC, abstractmethod",
        "from typing import TYPE_CHECKING, TypeVar",
        "from .._calls import Call",
        "if TYPE_CHECKING:",
    ]
    for type_name in sorted(names - BUILTINS - set(keyword.kwlist)):
        home = next((m for m in homes if _home_of(m, type_name)), None)
        if home is None:
            raise SystemExit(f"client/operations/: cannot find where `{type_name}` is defined")
        imports.append(f"    from {_relative(home.__name__)} import {type_name}")
    body = "\n\n".join(methods)
    text = (
        '"""The API\'s operations, a method each, as client/operations/ describes them.\n\n'
        "Each method imports its description when first called, and the types are imported\n"
        "for type checkers only: a program loads the descriptions (and wire models) of the\n"
        'operations it uses, no others."""\n\n'
        "from __future__ import annotations\n\n" + "\n".join(imports) + '\n\nT = TypeVar("T")\n\n\n'
        "class AsyncOperations(ABC):\n"
        '    """One method per API operation; the client sends the calls they make."""\n\n'
        "    @abstractmethod\n"
        "    async def _send(self, call: Call[T]) -> T:\n"
        '        """Execute one described call."""\n\n'
        f"{body}\n"
    )
    target = SOURCE / OPERATIONS
    text = _ruff(["check", "--fix-only", "--select", "I,F401", "--quiet"], text, target)
    return OPERATIONS_HEADER + _ruff(["format", "--quiet"], text, target)


def generate(operations: str) -> dict[str, str]:
    """The blocking files by name, as they should be on disk (`operations`: the async
    operations file as it should be, which they are made from)."""
    with tempfile.TemporaryDirectory() as tmp:
        source_dir = Path(tmp) / "_async"
        shutil.copytree(SOURCE, source_dir, ignore=shutil.ignore_patterns("__pycache__"))
        (source_dir / OPERATIONS).write_text(operations)
        rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=RENAMES)
        files = sorted(str(path) for path in source_dir.glob("*.py"))
        unasync.unasync_files(files, [rule])
        raw = {path.name: path.read_text() for path in (Path(tmp) / "_sync").glob("*.py")}
    out: dict[str, str] = {}
    for name, text in sorted(raw.items()):
        target = TARGET / name
        text = text.removeprefix(OPERATIONS_HEADER)
        _check_tokens(text, target)
        # Renames change import order and line lengths: let ruff settle both.
        text = _ruff(["check", "--fix-only", "--select", "I,F401", "--quiet"], text, target)
        text = _ruff(["format", "--quiet"], text, target)
        out[name] = HEADER.format(name=name) + text
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if files are out of date")
    check = parser.parse_args().check
    operations = generate_operations()
    wanted = {SOURCE / OPERATIONS: operations}
    wanted.update({TARGET / name: text for name, text in generate(operations).items()})
    present = {SOURCE / OPERATIONS, *TARGET.glob("*.py")}
    stale = [
        path
        for path in sorted(present | set(wanted))
        if path not in wanted or not path.exists() or path.read_text() != wanted[path]
    ]
    if check:
        for path in stale:
            have = path.read_text().splitlines(True) if path.exists() else []
            shown = path.relative_to(SOURCE.parent)
            sys.stdout.writelines(
                difflib.unified_diff(
                    have, wanted.get(path, "").splitlines(True), str(shown), "generated"
                )
            )
        if stale:
            names = ", ".join(str(path.relative_to(SOURCE.parent)) for path in stale)
            print(
                f"generated client code is out of date ({names}): "
                "run `python scripts/unasync_client.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for path in stale:
        if path in wanted:
            path.write_text(wanted[path])
        else:
            path.unlink()
        print(f"wrote {path.relative_to(SOURCE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
