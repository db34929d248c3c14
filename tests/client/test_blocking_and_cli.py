"""The blocking `Client` and the CLI against a real `roboscope serve` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from roboscope.cli import app
from roboscope.client import Client, Invalid, NotFound, VersionConflict
from roboscope.wire import (
    Marker,
    MarkerUpdate,
    SessionType,
    SpaceCreate,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)

from .conftest import square


@pytest.fixture
def blocking(server_url: str) -> Iterator[Client]:
    with Client(server_url) as client:
        yield client


def test_blocking_client_round_trip(blocking: Client) -> None:
    assert blocking.health().status == "ok"
    key = f"blocking-{uuid.uuid4()}"
    space = blocking.create_space(SpaceCreate(key=key, name="Blocking"))
    assert [s.id for s in blocking.list_spaces(key=key)] == [space.id]
    session = blocking.create_work_session(
        WorkSessionCreate(space_id=space.id, session_type=SessionType.other)
    )
    marker = blocking.create_marker(square(session.id, label="A"))
    assert [m.id for m in blocking.list_markers(work_session_id=session.id)] == [marker.id]

    def relabel(fresh: Marker) -> MarkerUpdate:
        return MarkerUpdate(label=f"{fresh.label}+")

    blocking.update_marker(marker.id, MarkerUpdate(label="B", version=0))
    retried = blocking.update_marker_with_retry(marker.id, relabel)
    assert (retried.label, retried.version) == ("B+", 2)
    with pytest.raises(VersionConflict) as caught:
        blocking.update_marker(marker.id, MarkerUpdate(label="stale", version=0))
    assert caught.value.current_version == 2

    active = blocking.update_work_session(
        session.id, WorkSessionUpdate(status=WorkSessionStatus.active, version=0)
    )
    assert active.version == 1
    with pytest.raises(Invalid):
        blocking.create_marker(square(uuid.uuid4()))

    grant = blocking.acquire_lock(session.id, 30)
    assert grant.token is not None and blocking.lock_status(session.id).locked
    assert blocking.release_lock(session.id, grant.token).released

    blocking.delete_space(space.id)
    with pytest.raises(NotFound):
        blocking.get_work_session(session.id)


def cli(server_url: str, *args: str) -> tuple[int, object, str]:
    """Run `roboscope ARGS` in-process; answer (exit code, parsed stdout or None, stderr)."""
    result = CliRunner().invoke(app, list(args), env={"ROBOSCOPE_URL": server_url})
    parsed = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, parsed, result.stderr


def test_cli_commands(server_url: str) -> None:
    key = f"cli-{uuid.uuid4()}"
    code, space, _ = cli(server_url, "spaces", "create", "--key", key, "--name", "CLI")
    assert code == 0 and isinstance(space, dict) and space["key"] == key
    code, listed, _ = cli(server_url, "spaces", "list", "--key", key)
    assert code == 0 and listed == [space]

    code, session, _ = cli(server_url, "sessions", "create", "--space", space["id"])
    assert code == 0 and isinstance(session, dict) and session["status"] == "draft"
    code, updated, _ = cli(server_url, "sessions", "update", session["id"], "--status", "active")
    assert code == 0 and isinstance(updated, dict) and updated["version"] == 1

    corners = ["--p1", "0,0,0", "--p2", "1,0,0", "--p3", "1,0,1", "--p4", "0,0,1"]
    code, marker, _ = cli(server_url, "markers", "create", "--session", session["id"], *corners)
    assert code == 0 and isinstance(marker, dict) and marker["p3"] == [1, 0, 1]
    code, markers, _ = cli(server_url, "markers", "list", "--session", session["id"])
    assert code == 0 and markers == [marker]

    code, grant, _ = cli(server_url, "lock", "acquire", session["id"], "--owner", "cli")
    assert code == 0 and isinstance(grant, dict) and grant["acquired"] is True
    code, _, stderr = cli(server_url, "lock", "acquire", session["id"])
    assert code == 1 and "locked" in stderr
    code, status, _ = cli(server_url, "lock", "status", session["id"])
    assert code == 0 and isinstance(status, dict) and status["owner"] == "cli"
    code, released, _ = cli(server_url, "lock", "release", session["id"], grant["token"])
    assert code == 0 and released == {"released": True}

    code, beat, _ = cli(server_url, "presence", "beat", session["id"], "--user", "ann")
    assert code == 0 and isinstance(beat, dict) and beat["user_count"] == 1
    code, present, _ = cli(server_url, "presence", "list", session["id"])
    assert code == 0 and isinstance(present, dict) and present["users"] == ["ann"]
    code, present, _ = cli(server_url, "presence", "leave", session["id"], "ann")
    assert code == 0 and isinstance(present, dict) and present["users"] == []


def test_cli_errors_go_to_stderr_with_a_failing_status(server_url: str) -> None:
    code, out, stderr = cli(server_url, "spaces", "get", str(uuid.uuid4()))
    assert code == 1 and out is None
    assert stderr.startswith("error: 404 not_found")


def test_cli_as_a_process(server_url: str) -> None:
    """`python -m roboscope health --url …`: JSON on stdout, for jq."""
    env = {**os.environ, "ROBOSCOPE_URL": "http://127.0.0.1:9"}  # --url wins over the env
    done = subprocess.run(
        [sys.executable, "-m", "roboscope", "health", "--url", server_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"

    unreachable = subprocess.run(
        [sys.executable, "-m", "roboscope", "health"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert unreachable.returncode == 1
    assert unreachable.stdout == "" and "cannot reach" in unreachable.stderr
