"""Where a server's time goes during a benchmark run: py-spy samples, summed by layer.

`./dev bench --profile DIR` records the API server's processes with py-spy (`record -f raw`,
collapsed stacks) during each timed run of a scenario, keeps the samples in DIR, and prints
each run's shares by layer. py-spy is not a dependency of the project: install it into the
virtual environment by hand (`.venv/bin/pip install py-spy`) to profile.

A sample is put down to the layer of its innermost Python frame outside the standard library
(its "self" time; asyncio's socket writes for redis-py count for redis-py): py-spy sees no C
frames, so time in C (a socket write, SQLite, the JSON encoder of pydantic-core) counts for
the Python function that called it. The event loop's own frame is what the
process does while no request's code runs: waiting for sockets or, on SQLite, for the
database thread, and uvloop's own work in C (its loop is below that frame).
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

SAMPLES_PER_SECOND = 250

# (part of a frame's file path, layer): the first that matches.
_LAYERS: tuple[tuple[str, str], ...] = (
    ("uvicorn/", "HTTP server (uvicorn)"),
    ("roboscope/server/http.py", "HTTP server (uvicorn)"),
    ("httptools", "HTTP server (uvicorn)"),
    ("fastapi/", "framework (FastAPI, Starlette)"),
    ("starlette/", "framework (FastAPI, Starlette)"),
    ("anyio/", "framework (FastAPI, Starlette)"),
    ("redis/", "Redis client (redis-py and our pool)"),
    ("roboscope/realtime/connection.py", "Redis client (redis-py and our pool)"),
    ("roboscope/realtime/scripts.py", "Redis client (redis-py and our pool)"),
    ("sqlalchemy/", "database (SQLAlchemy, drivers, SQLite)"),
    ("aiosqlite/", "database (SQLAlchemy, drivers, SQLite)"),
    ("asyncpg/", "database (SQLAlchemy, drivers, SQLite)"),
    ("sqlite3/", "database (SQLAlchemy, drivers, SQLite)"),
    ("greenlet", "database (SQLAlchemy, drivers, SQLite)"),
    ("roboscope/db/", "database (SQLAlchemy, drivers, SQLite)"),
    ("pydantic", "validation and JSON (pydantic)"),
    ("prometheus_client/", "request log and metrics"),
    ("roboscope/logs.py", "request log and metrics"),
    ("roboscope/server/", "our HTTP edge (middleware, auth, routes)"),
    ("roboscope/", "our services and stores"),
)
OTHER = "other"


def py_spy() -> str | None:
    """The py-spy executable: beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def recording(pid: int, output: Path, seconds: float) -> Iterator[None]:
    """Sample process `pid` and its children for about `seconds` into `output`."""
    executable = py_spy()
    if executable is None:
        raise SystemExit(
            "error: --profile needs py-spy: .venv/bin/pip install py-spy (not a dependency)"
        )
    command = [
        executable, "record", "--format", "raw", "--output", str(output), "--pid", str(pid),
        "--subprocesses", "--nonblocking", "--rate", str(SAMPLES_PER_SECOND),
        "--duration", str(max(1, round(seconds))),
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        try:
            _, errors = spy.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, errors = spy.communicate()
        if spy.returncode != 0 and not output.exists():
            print(f"  ! py-spy failed: {errors.decode(errors='replace').strip()}", flush=True)


def _database_thread_waiting() -> str:
    """The frame of aiosqlite's thread blocked on its queue, waiting for work (py-spy does not
    always tell that wait from work): its line of `tx.get()`."""
    try:
        import aiosqlite.core
    except ImportError:
        return "-"
    lines, first = inspect.getsourcelines(aiosqlite.core._connection_worker_thread)
    for offset, line in enumerate(lines):
        if "tx.get()" in line:
            return f"(aiosqlite/core.py:{first + offset})"
    return "-"


_WAITING = _database_thread_waiting()
IDLE = "idle (database thread waiting)"


def _module(frame: str) -> str:
    """`asyncio` of `wait_for (asyncio/tasks.py:123)`, `contextlib` of `… (contextlib.py:5)`."""
    path = frame.rpartition(" (")[2]
    return path.split("/", 1)[0].split(".", 1)[0].split(":", 1)[0]


def layer_of(stack: list[str]) -> str:
    """The layer of one sample (its frames, outermost first): that of its innermost frame
    outside the standard library (whose asyncio, contextlib or json work is done for that
    caller), except for logging and the event loop itself."""
    innermost = stack[-1]
    if _WAITING in innermost:
        return IDLE
    if "(asyncio/runners.py" in innermost:
        return "event loop (uvloop, in C)"
    for frame in reversed(stack):
        module = _module(frame)
        if module == "logging":
            return "request log and metrics"
        if module in sys.stdlib_module_names or module.startswith("<frozen"):
            continue
        for part, layer in _LAYERS:
            if part in frame:
                return layer
        return OTHER
    return "standard library"


def shares(raw: Path) -> tuple[int, list[tuple[str, float]]]:
    """(samples, [(layer, share of the samples)], largest first) of a `py-spy -f raw` file;
    the database thread's waits for work are left out."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")[1:]  # (the first is the process)
        layer = layer_of(frames) if frames else IDLE
        if layer != IDLE:
            counts[layer] += int(count)
    total = sum(counts.values())
    return total, [(layer, n / total) for layer, n in counts.most_common()] if total else []


def print_shares(title: str, raw: Path) -> None:
    if not raw.exists():
        return
    total, parts = shares(raw)
    print(f"  where the time went ({title}, {total} samples, {raw.name}):")
    for layer, share in parts:
        print(f"    {share:6.1%}  {layer}")
