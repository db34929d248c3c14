"""The CLI against a real `roboscope serve` process: in-process through Typer's runner, and
as a real subprocess for exit codes, tracebacks and what it imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from roboscope.cli import app

from ..servers import free_port, running_server

CORNERS = ("--p1", "0,0,0", "--p2", "1,0,0", "--p3", "1,0,1", "--p4", "0,0,1")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def cli(url: str, *args: str, stdin: str | None = None) -> Run:
    """`roboscope ARGS` in-process, the server given by ROBOSCOPE_URL."""
    result = CliRunner().invoke(app, list(args), env={"ROBOSCOPE_URL": url}, input=stdin)
    return Run(result.exit_code, result.stdout, result.stderr)


def ok(url: str, *args: str) -> Any:
    """Run a command that must succeed and print JSON; answer the parsed JSON."""
    run = cli(url, *args)
    assert run.code == 0, run.stderr
    return run.json if run.stdout.strip() else None


def python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def roboscope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m roboscope ARGS` as a real process."""
    return python("-m", "roboscope", *args, env=env)


@pytest.fixture
def session(server_url: str) -> Iterator[dict[str, Any]]:
    space = ok(server_url, "spaces", "create", "--key", f"cli-{uuid.uuid4()}", "--name", "CLI")
    yield ok(server_url, "sessions", "create", "--space", space["id"])
    cli(server_url, "spaces", "delete", space["id"])


def test_spaces_sessions_markers(server_url: str) -> None:
    key = f"cli-{uuid.uuid4()}"
    space = ok(server_url, "spaces", "create", "--key", key, "--name", "CLI", "--meta", '{"a": 1}')
    assert space["key"] == key and space["meta"] == {"a": 1}
    assert ok(server_url, "spaces", "list", "--key", key, "--json") == [space]
    table = cli(server_url, "spaces", "list", "--key", key)
    assert table.code == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["ID", "KEY", "NAME", "ACTIVE", "UPDATED"]
    assert row.split()[:4] == [space["id"], key, "CLI", "yes"]
    assert ok(server_url, "spaces", "update", space["id"], "--inactive")["is_active"] is False
    assert ok(server_url, "spaces", "list", "--key", key, "--json") == []

    session = ok(server_url, "sessions", "create", "--space", space["id"], "--type", "repair")
    assert (session["status"], session["session_type"]) == ("draft", "repair")
    updated = ok(server_url, "sessions", "update", session["id"], "--status", "active")
    assert updated["version"] == 1
    stale = cli(
        server_url, "sessions", "update", session["id"], "--status", "done", "--version", "0"
    )
    assert stale.code == 1 and stale.stderr.startswith("error: 409 version_conflict")
    listed = cli(server_url, "sessions", "list", "--space", space["id"])
    assert listed.code == 0 and "active" in listed.stdout.splitlines()[1]

    marker = ok(server_url, "markers", "create", "--session", session["id"], *CORNERS)
    assert marker["p3"] == [1, 0, 1]
    assert ok(server_url, "markers", "list", "--session", session["id"], "--json") == [marker]
    rows = cli(server_url, "markers", "list", "--session", session["id"]).stdout.splitlines()
    assert rows[1].split()[:7] == [marker["id"], "-", "0", "0,0,0", "1,0,0", "1,0,1", "0,0,1"]

    moved = ok(server_url, "markers", "update", marker["id"], "--p1", "0.5,0,0", "--label", "A")
    assert (moved["p1"], moved["label"], moved["version"]) == ([0.5, 0, 0], "A", 1)
    versioned = ok(
        server_url, "markers", "update", marker["id"], "--color", "red", "--version", "1"
    )
    assert versioned["version"] == 2
    stale = cli(server_url, "markers", "update", marker["id"], "--label", "B", "--version", "1")
    assert stale.code == 1 and "version_conflict" in stale.stderr
    assert ok(server_url, "markers", "delete", marker["id"]) is None
    assert cli(server_url, "markers", "get", marker["id"]).code == 1


def test_markers_bulk_from_a_file(server_url: str, session: dict[str, Any], tmp_path: Path) -> None:
    corners = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
    path = tmp_path / "markers.json"
    path.write_text(json.dumps([{"label": "A", **corners}, {"label": "B", **corners}]))
    created = ok(server_url, "markers", "bulk", str(path), "--session", session["id"], "--json")
    assert [m["label"] for m in created] == ["A", "B"]

    # {"markers": [...]} from standard input, each naming its session.
    body = {"markers": [{"work_session_id": session["id"], "label": "C", **corners}]}
    run = cli(server_url, "markers", "bulk", "-", stdin=json.dumps(body))
    assert run.code == 0 and run.stdout.splitlines()[0].split()[:2] == ["ID", "LABEL"]

    # One bad marker: refused before sending, named by its place in the file; none created.
    path.write_text(json.dumps([{"label": "D", **corners}, {**corners, "p2": [1, 0]}]))
    bad = cli(server_url, "markers", "bulk", str(path), "--session", session["id"])
    assert bad.code == 2 and bad.stderr.startswith("error: FILE: markers[1].p2:")
    listed = ok(server_url, "markers", "list", "--session", session["id"], "--json")
    assert [m["label"] for m in listed] == ["A", "B", "C"]


def test_details_anchors_laser_guide_reference_sets(
    server_url: str, session: dict[str, Any], tmp_path: Path
) -> None:
    marker = ok(server_url, "markers", "create", "--session", session["id"], *CORNERS)
    assert cli(server_url, "details", "get", marker["id"]).code == 1  # none yet
    details = ok(server_url, "details", "calculate", marker["id"])
    assert details["marker_id"] == marker["id"]
    assert ok(server_url, "details", "get", marker["id"]) == details
    put = tmp_path / "details.json"
    stored = {name: 1.5 for name in ("center_location_long", "center_location_cross")}
    stored |= {name: 1.0 for name in ("x_negative", "x_positive", "z_positive", "z_negative")}
    put.write_text(json.dumps({**stored, "long_size": 2, "cross_size": 2}))
    assert ok(server_url, "details", "put", marker["id"], str(put))["long_size"] == 2
    assert ok(server_url, "details", "delete", marker["id"]) is None

    anchor = ok(
        server_url, "anchors", "upsert", "--session", session["id"], "--run", "1",
        "--local-z", "2.5", "--position", "1,2,3",
    )  # fmt: skip
    assert anchor["world_position"] == [1, 2, 3]
    assert ok(server_url, "anchors", "list", "--session", session["id"], "--json") == [anchor]
    assert "1,2,3" in cli(server_url, "anchors", "list", "--session", session["id"]).stdout
    moved = ok(server_url, "anchors", "update", anchor["id"], "--position", "4,5,6")
    assert moved["world_position"] == [4, 5, 6]
    assert ok(server_url, "anchors", "get", anchor["id"]) == moved
    assert ok(server_url, "anchors", "delete", anchor["id"]) is None

    space_id = session["space_id"]
    guide = tmp_path / "guide.json"
    guide.write_text(json.dumps({"grid": [{"x": 0, "z": 1, "segment_length": 2}]}))
    assert ok(server_url, "laser-guide", "put", space_id, str(guide))["grid"][0]["z"] == 1
    assert ok(server_url, "laser-guide", "get", space_id)["space_id"] == space_id
    assert ok(server_url, "laser-guide", "delete", space_id) is None
    assert cli(server_url, "laser-guide", "get", space_id).code == 1

    markers = tmp_path / "refs.json"
    markers.write_text(json.dumps([{"label": "R", "p1": [0, 0, 0], "p2": [1, 0, 0],
                                    "p3": [1, 0, 1], "p4": [0, 0, 1]}]))  # fmt: skip
    created = ok(
        server_url,
        "reference-sets",
        "create",
        space_id,
        "--name",
        "Refs",
        "--markers",
        str(markers),
    )
    assert [m["label"] for m in created["markers"]] == ["R"]
    assert ok(server_url, "reference-sets", "list", space_id, "--json") == [created]
    row = cli(server_url, "reference-sets", "list", space_id).stdout.splitlines()[1]
    assert row.split()[:4] == [created["id"], "Refs", "1", "0"]
    renamed = ok(
        server_url, "reference-sets", "update", created["id"], "--name", "R2", "--version", "0"
    )
    assert (renamed["name"], renamed["version"]) == ("R2", 1)
    assert ok(server_url, "reference-sets", "get", created["id"]) == renamed
    assert ok(server_url, "reference-sets", "delete", created["id"]) is None


def test_presence_and_leaving_with_a_device(server_url: str) -> None:
    """Device ids travel verbatim: leaving with `--device` removes that device only."""
    session_id = str(uuid.uuid4())
    beat = ok(server_url, "presence", "beat", session_id, "--user", "ann", "--device", "iPad")
    assert (beat["device_id"], beat["user_count"]) == ("iPad", 1)
    ok(server_url, "presence", "beat", session_id, "--user", "ann", "--device", "Mac")
    table = cli(server_url, "presence", "list", session_id)
    user, devices = table.stdout.splitlines()[1].split()[:2]
    assert table.code == 0 and user == "ann" and set(devices.split(",")) == {"iPad", "Mac"}
    left = ok(server_url, "presence", "leave", session_id, "ann", "--device", "iPad", "--json")
    assert left["users"] == ["ann"] and left["members"][0]["devices"] == ["Mac"]
    left = ok(server_url, "presence", "leave", session_id, "ann", "--device", "Mac", "--json")
    assert left["users"] == []


def test_lock_failures_exit_nonzero(server_url: str) -> None:
    session_id = str(uuid.uuid4())
    grant = ok(server_url, "lock", "acquire", session_id, "--owner", "cli")
    assert grant["acquired"] is True
    refused = cli(server_url, "lock", "acquire", session_id)
    assert refused.code == 1 and "locked by another holder" in refused.stderr
    assert ok(server_url, "lock", "status", session_id)["owner"] == "cli"
    extended = ok(server_url, "lock", "extend", session_id, grant["token"], "--ttl", "60")
    assert extended["extended"] is True

    wrong = "0" * 48
    extend = cli(server_url, "lock", "extend", session_id, wrong)
    assert extend.code == 1 and extend.json["extended"] is False
    assert extend.stderr.startswith("error: the lock of") and "not extended" in extend.stderr
    release = cli(server_url, "lock", "release", session_id, wrong)
    assert release.code == 1 and "not released" in release.stderr

    assert ok(server_url, "lock", "release", session_id, grant["token"]) == {"released": True}
    expired = cli(server_url, "lock", "release", session_id, grant["token"])
    assert expired.code == 1 and expired.json == {"released": False}


def test_errors_are_one_line_with_a_failing_status(server_url: str) -> None:
    missing = cli(server_url, "spaces", "get", str(uuid.uuid4()))
    assert missing.code == 1 and missing.stdout == ""
    assert missing.stderr.startswith("error: 404 not_found") and missing.stderr.count("\n") == 1

    key = f"dup-{uuid.uuid4()}"
    ok(server_url, "spaces", "create", "--key", key, "--name", "first")
    duplicate = cli(server_url, "spaces", "create", "--key", key, "--name", "again")
    assert duplicate.code == 1 and f"'{key}'" in duplicate.stderr


REFUSED = [
    (
        ["markers", "create", "--session", str(uuid.uuid4()), "--p1", "0,0,nan", *CORNERS[2:]],
        "--p1",
    ),
    (["markers", "create", "--session", str(uuid.uuid4()), "--p1", "0,0", *CORNERS[2:]], "--p1"),
    (["spaces", "create", "--key", "", "--name", "x"], "--key"),
    (["spaces", "create", "--key", "k"], "--name"),
    (["spaces", "create", "--key", "k", "--name", "x", "--meta", "[1]"], "--meta"),
    (["presence", "beat", str(uuid.uuid4()), "--user", ""], "--user"),
    (["presence", "leave", str(uuid.uuid4()), ""], "USER"),
    (["spaces", "get", "not-a-uuid"], "SPACE_ID"),
    (["sessions", "create", "--space", str(uuid.uuid4()), "--type", "nope"], "--type"),
    (
        [
            "anchors",
            "upsert",
            "--session",
            str(uuid.uuid4()),
            "--run",
            "1",
            "--local-z",
            "1",
            "--position",
            "1,2,inf",
        ],
        "--position",
    ),
    (["lock", "acquire", str(uuid.uuid4()), "--ttl", "0"], "--ttl"),
    (["markers", "bulk", "/nonexistent/markers.json"], "FILE"),
]


@pytest.mark.parametrize(("args", "field"), REFUSED, ids=[" ".join(a[:2]) for a, _ in REFUSED])
def test_bad_input_is_refused_before_sending(args: list[str], field: str) -> None:
    """One line naming the field, exit 2, nothing sent (the URL is unreachable)."""
    run = cli("http://127.0.0.1:9", *args)
    assert run.code == 2, run.stderr
    assert run.stdout == "" and run.stderr.startswith(f"error: {field}: ")
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_url_before_the_command_env_and_on_the_command(server_url: str) -> None:
    down = "http://127.0.0.1:9"
    result = CliRunner().invoke(app, ["--url", server_url, "health"], env={"ROBOSCOPE_URL": down})
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(app, ["--url", down, "health", "--url", server_url])
    assert result.exit_code == 0, result.stderr  # the command's own --url wins
    result = CliRunner().invoke(app, ["health"], env={"ROBOSCOPE_URL": down})
    assert result.exit_code == 1 and "cannot reach http://127.0.0.1:9" in result.stderr


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("roboscope ")


def test_every_command_and_option_has_help() -> None:
    missing: list[str] = []

    def walk(command: Any, path: str) -> None:
        if not (command.help or command.short_help):
            missing.append(path)
        missing.extend(f"{path} {p.name}" for p in command.params if not getattr(p, "help", None))
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "roboscope")
    assert missing == []


def test_health_exits_nonzero_when_redis_is_down(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    with running_server(tmp_path, env=env) as server:
        run = cli(server.url, "health")
    assert run.code == 1
    assert run.json["status"] == "degraded"
    assert (run.json["database"], run.json["redis"]) == ("up", "down")
    assert "database_error" not in run.json and run.json["redis_problem"]
    assert run.stderr == "error: the server is degraded: redis down\n"


FORBIDDEN = ("roboscope.server", "roboscope.db", "roboscope.realtime", "roboscope.services",
             "roboscope.settings", "fastapi", "starlette", "sqlalchemy", "alembic", "redis",
             "uvicorn", "asyncpg", "aiosqlite")  # fmt: skip


def imported(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_a_real_process_exit_codes_and_imports(server_url: str) -> None:
    """`python -m roboscope …` as a user runs it: JSON on stdout, one-line errors, the right
    exit status, and no server, database, Redis or Alembic module loaded."""
    env = {"ROBOSCOPE_URL": "http://127.0.0.1:9"}
    done = python("-X", "importtime", "-m", "roboscope", "--url", server_url, "health", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"
    modules = imported(done.stderr)
    assert "roboscope.client" in modules
    assert sorted(m for m in modules if m.startswith(FORBIDDEN)) == []

    unreachable = roboscope("health", env=env)
    assert unreachable.returncode == 1 and unreachable.stdout == ""
    assert (
        unreachable.stderr.startswith("error: cannot reach") and unreachable.stderr.count("\n") == 1
    )

    refused = roboscope("presence", "beat", str(uuid.uuid4()), "--user", "", env=env)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == "error: --user: must not be empty\n"

    session = str(uuid.uuid4())
    roboscope("--url", server_url, "presence", "beat", session, "--user", "ann", "--device", "iPad")
    left = roboscope("--url", server_url, "presence", "leave", session, "ann", "--device", "iPad")
    assert left.returncode == 0 and "Traceback" not in left.stderr, left.stderr


def test_the_sdk_and_cli_import_no_server_code() -> None:
    code = "import roboscope.client, roboscope.wire, roboscope.cli_client, roboscope.cli"
    done = python("-X", "importtime", "-c", code)
    assert done.returncode == 0, done.stderr
    assert sorted(m for m in imported(done.stderr) if m.startswith(FORBIDDEN)) == []
    helped = python("-X", "importtime", "-m", "roboscope", "--help")
    assert helped.returncode == 0 and "spaces" in helped.stdout
    assert sorted(m for m in imported(helped.stderr) if m.startswith(FORBIDDEN)) == []


def test_watch_follows_a_session_until_it_is_deleted(
    server_url: str, session: dict[str, Any]
) -> None:
    """`watch` as a real process: one JSON line per event as it happens, exit 0 when the
    session is deleted; an unknown session is one line and exit 1."""
    sid = session["id"]
    env = {**os.environ, "ROBOSCOPE_URL": server_url}
    command = [sys.executable, "-m", "roboscope", "watch", sid, "--json"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    ) as watcher:
        assert watcher.stdout is not None
        lines = [json.loads(watcher.stdout.readline()) for _ in range(2)]  # the snapshots
        ok(server_url, "markers", "create", "--session", sid, *SQUARE_ARGS, "--label", "A")
        lines.append(json.loads(watcher.stdout.readline()))
        cli(server_url, "sessions", "delete", sid)
        out, err = watcher.communicate(timeout=30)
    lines += [json.loads(line) for line in out.splitlines()]
    assert [line["event"] for line in lines] == [
        "presence.snapshot",
        "lock.snapshot",
        "marker.created",
        "work_session.deleted",
    ]
    assert lines[2]["data"]["label"] == "A" and lines[2]["cursor"] < lines[3]["cursor"]
    assert watcher.returncode == 0, err

    gone = roboscope("watch", sid, env={"ROBOSCOPE_URL": server_url})
    assert gone.returncode == 1
    assert gone.stderr.startswith("error: 404") and "Traceback" not in gone.stderr


SQUARE_ARGS = ("--p1", "0,0,0", "--p2", "1,0,0", "--p3", "1,0,1", "--p4", "0,0,1")
