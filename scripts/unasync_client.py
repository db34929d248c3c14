"""Generate the blocking client from the async one: `src/roboscope/client/_async/` →
`src/roboscope/client/_sync/`, with the `unasync` package (as httpcore does), then ruff.

    python scripts/unasync_client.py          # write the generated files
    python scripts/unasync_client.py --check  # fail if they differ from what would be generated

`./dev lint` runs the check, so a hand edit of a generated file (or an async change that was
not regenerated) fails lint. Beyond unasync's own renames (`__aenter__`, `async`, `await`,
…) the renames below map each async name to its blocking twin; `client/_concurrency.py`
holds the hand-written pairs (asyncio tasks and threads) the renames point at.
"""

from __future__ import annotations

import argparse
import difflib
import io
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

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
    "AsyncBaseTransport": "BaseTransport",
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


def generate() -> dict[str, str]:
    """The blocking files by name, as they should be on disk."""
    with tempfile.TemporaryDirectory() as tmp:
        source_dir = Path(tmp) / "_async"
        shutil.copytree(SOURCE, source_dir, ignore=shutil.ignore_patterns("__pycache__"))
        rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=RENAMES)
        files = sorted(str(path) for path in source_dir.glob("*.py"))
        unasync.unasync_files(files, [rule])
        raw = {path.name: path.read_text() for path in (Path(tmp) / "_sync").glob("*.py")}
    out: dict[str, str] = {}
    for name, text in sorted(raw.items()):
        target = TARGET / name
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
    wanted = generate()
    present = {path.name for path in TARGET.glob("*.py")}
    stale = [
        name
        for name in sorted(present | set(wanted))
        if name not in wanted or name not in present or (TARGET / name).read_text() != wanted[name]
    ]
    if check:
        for name in stale:
            have = (TARGET / name).read_text().splitlines(True) if name in present else []
            sys.stdout.writelines(
                difflib.unified_diff(
                    have, wanted.get(name, "").splitlines(True), f"_sync/{name}", "generated"
                )
            )
        if stale:
            print(
                f"client/_sync is out of date ({', '.join(stale)}): "
                "run `python scripts/unasync_client.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for name in stale:
        if name in wanted:
            (TARGET / name).write_text(wanted[name])
        else:
            (TARGET / name).unlink()
        print(f"wrote client/_sync/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
