"""The CLI against a real `roboscope serve` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from typer.testing import CliRunner

from roboscope.cli import app


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
