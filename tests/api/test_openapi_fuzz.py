"""schemathesis fuzzes a real server from its own OpenAPI document: no 5xx for any input, and
every answer conforms to the document (status documented, content type, body, headers, and
the `Allow` of a 405).

Bounded (examples per operation, a fixed seed) so it takes about a minute per database on
2 cores. It runs the `st` CLI against a `roboscope serve` process on the session's database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from roboscope.db.engine import Database

from ..servers import ServerProcess, running_server

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "allow_header_conformance",  # a 405's `Allow` names the documented methods
)
MAX_EXAMPLES = 10


@pytest.fixture
def server(database_url: str, database: Database, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process on the session's database (emptied first, like every API test)."""
    env = {"ROBOSCOPE_DATABASE_URL": database_url}
    redis_url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    if redis_url:
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    with running_server(tmp_path / "server", env=env) as process:
        yield process


def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    server: ServerProcess, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).with_name("st")),
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
    ]
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    report = run.stdout[-20000:] + run.stderr[-5000:]
    assert run.returncode == 0, f"schemathesis found failures:\n{report}\n{server.log_tail()}"
    assert "Tested: " in run.stdout, report
