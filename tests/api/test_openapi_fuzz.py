"""schemathesis fuzzes a real server from its own OpenAPI document: no 5xx for any input, and
every answer conforms to the document (status documented, content type, body, headers, and
the `Allow` of a 405).

Bounded (examples per operation, a fixed seed, live streams read only to their snapshots)
so a run takes about 40 s on 2 cores. It runs the `st` CLI against a `roboscope serve`
process on the session's database, with ROBOSCOPE_AUTH off and required (then with an admin
token, which reaches every operation; the refusals of other tokens are
tests/api/test_auth.py's).

The fixtures and the test are async and wait for the processes in threads: the session's app
(tests/conftest.py) shares the database, and its background tasks run only while the test
loop does. A change-log retention pass that the loop left inside its transaction keeps
SQLite's write lock until the loop runs again; blocking the loop on a server or a command
that writes the same file made them wait their busy timeout and fail "database is locked".
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from roboscope.db.engine import Database

from ..servers import ServerProcess, run_command, start_server

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "allow_header_conformance",  # a 405's `Allow` names the documented methods
)
MAX_EXAMPLES = 10

# A live stream never ends: schemathesis reads one until it has sent `max-stream-events`
# events (20 by default) or the request timeout has passed. Ours sends its two snapshots
# and then only changes and keep-alive comments, so each stream the fuzzer opened on a real
# session was read for the whole 30 s timeout: about a minute of every run spent waiting.
# Its 200 documents the content type only, which the first two events show as well.
CONFIG = """\
[[operations]]
include-operation-id = "changes_session_events"
max-stream-events = 2
"""


@pytest.fixture(params=["off", "required"])
def auth(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_env(database_url: str, database: Database, auth: str) -> dict[str, str]:
    """The session's database (emptied first, like every API test)."""
    env = {"ROBOSCOPE_DATABASE_URL": database_url, "ROBOSCOPE_AUTH": auth}
    redis_url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    if redis_url:
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    return env


@pytest.fixture
async def headers(server_env: dict[str, str], auth: str, tmp_path: Path) -> list[str]:
    """`st` options: an admin token's header when auth is on."""
    if auth == "off":
        return []
    made = await asyncio.to_thread(
        run_command,
        "tokens",
        "create",
        "fuzz-admin-7f3a",
        "--scope",
        "admin",
        "--user",
        "fuzzer",
        data_dir=tmp_path / "cli",
        env=server_env,
    )
    assert made.returncode == 0, made.stderr
    return ["--header", f"Authorization: Bearer {made.stdout.strip()}"]


@pytest.fixture
async def server(server_env: dict[str, str], tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = await asyncio.to_thread(start_server, tmp_path / "server", env=server_env)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


@pytest.mark.timeout(900)  # about 40 s alone; far more on a machine shared with others
async def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    server: ServerProcess, headers: list[str], tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{server.api}/openapi.json")).json()
    operations = {
        op.get("operationId") for path in document["paths"].values() for op in path.values()
    }
    assert "changes_session_events" in operations, "CONFIG names an operation that is gone"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{server.api}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261130",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        *headers,
    ]
    run = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout[-20000:] + run.stderr[-5000:]
    assert run.returncode == 0, f"schemathesis found failures:\n{report}\n{server.log_tail()}"
    assert "Tested: " in run.stdout, report
