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
from unittest.mock import ANY

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from roboscope.cli import app

from ..servers import free_port, run_command, running_server

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
    result = CliRunner().invoke(
        app, list(args), env={"ROBOSCOPE_URL": url}, input=stdin, prog_name="roboscope"
    )
    return Run(result.exit_code, result.stdout, result.stderr)


def ok(url: str, *args: str) -> Any:
    """Run a command that must succeed, with --json; answer the parsed JSON."""
    prints = not (len(args) > 1 and args[1] == "delete")
    run = cli(url, *args, *(["--json"] if prints else []))
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
    # --all is every page (as on every list), never the inactive ones: that is its own flag.
    assert ok(server_url, "spaces", "list", "--key", key, "--all") == []
    assert ok(server_url, "spaces", "list", "--key", key, "--include-inactive") == [
        {**space, "is_active": False, "updated_at": ANY}
    ]
    shown = cli(server_url, "spaces", "get", space["id"])
    assert shown.code == 0 and shown.stdout.splitlines()[:3] == [
        f"id              {space['id']}",
        f"key             {key}",
        "name            CLI",
    ]
    assert 'meta            {"a":1}' in shown.stdout.splitlines()

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
    extend = cli(server_url, "lock", "extend", session_id, wrong, "--json")
    assert extend.code == 1 and extend.json["extended"] is False
    assert extend.stderr.startswith("error: the lock of") and "not extended" in extend.stderr
    release = cli(server_url, "lock", "release", session_id, wrong)
    assert release.code == 1 and "not released" in release.stderr

    assert ok(server_url, "lock", "release", session_id, grant["token"]) == {"released": True}
    expired = cli(server_url, "lock", "release", session_id, grant["token"], "--json")
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
    (["--url", "ftp://example.com", "health"], "--url / ROBOSCOPE_URL"),
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


def every_command() -> Iterator[tuple[str, Any]]:
    """Each command of `roboscope`, by its path, loading the lazy ones."""
    root = typer.main.get_command(app)

    def walk(command: Any, path: str, ctx: Any) -> Iterator[tuple[str, Any]]:
        yield path, command
        if isinstance(command, TyperGroup):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(
                    sub,
                    f"{path} {name}",
                    sub.make_context(name, [], parent=ctx, resilient_parsing=True),
                )

    yield from walk(root, "roboscope", root.make_context("roboscope", [], resilient_parsing=True))


def test_every_described_command_is_offered() -> None:
    """Each client command is built from the one module of client/operations/ that
    cli_client.COMMANDS names for it: a command described elsewhere would be missing."""
    from roboscope import cli_client
    from roboscope.cli import COMMANDS
    from roboscope.client.operations import described

    names = {name for name, entry in COMMANDS.items() if entry.module == "roboscope.cli_client"}
    assert names == set(cli_client.COMMANDS)
    wanted = {
        "roboscope " + " ".join(op.command.words)
        for _, op in described().values()
        if op.command is not None
    }
    offered = {path for path, command in every_command() if not isinstance(command, TyperGroup)}
    assert wanted <= offered


def test_every_command_and_option_has_help() -> None:
    missing: list[str] = []
    for path, command in every_command():
        if not (command.help or command.short_help):
            missing.append(path)
        missing.extend(f"{path} {p.name}" for p in command.params if not getattr(p, "help", None))
    assert missing == []


def test_help_shows_no_bool_metavar_on_flags() -> None:
    """Flags are shown bare (`--json`, `--all`), as gh and kubectl show them."""
    shown = {
        path: CliRunner().invoke(app, [*path.split()[1:], "--help"]) for path, _ in every_command()
    }
    assert all(result.exit_code == 0 for result in shown.values())
    assert [path for path, result in shown.items() if "<bool>" in result.stdout] == []
    assert "  --json " in shown["roboscope spaces list"].stdout


def test_health_exits_nonzero_when_redis_is_down(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    with running_server(tmp_path, env=env) as server:
        run = cli(server.url, "health", "--json")
    assert run.code == 1
    assert run.json["status"] == "degraded"
    assert (run.json["database"], run.json["redis"]) == ("up", "down")
    assert "database_error" not in run.json and run.json["redis_problem"]
    assert run.stderr == "error: the server is degraded: redis down\n"


FORBIDDEN = ("roboscope.server", "roboscope.db", "roboscope.realtime", "roboscope.services",
             "roboscope.settings", "fastapi", "starlette", "sqlalchemy", "alembic", "redis",
             "uvicorn", "asyncpg", "aiosqlite")  # fmt: skip


# A real `roboscope ARGS` process that prints, as it exits, every module it has imported:
# sys.modules (`-X importtime` misses the modules imported by importlib.import_module, which
# is how the commands and the SDK's lazy packages are loaded).
_REPORTING = """
import atexit, sys
loaded = lambda: sorted(name for name, module in sys.modules.items() if module is not None)
atexit.register(lambda: print("\\nmodules:", *loaded(), file=sys.__stderr__))
from roboscope.cli import app
app(prog_name="roboscope")
"""


def run_reporting_modules(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`roboscope ARGS` as a real process; its result (stderr without the report) and the
    modules it had imported when it exited."""
    done = python("-c", _REPORTING, *args, env=env)
    done.stderr, _, report = done.stderr.rpartition("\nmodules: ")
    assert report, "the process printed no module list"
    return done, set(report.split())


# What `health` has no use for: the server's side (above), the async client, the behaviours
# and asyncio, the resources' descriptions and models, httpx's own command line (click, rich,
# pygments). Loading them tripled its start-up (docs/performance.md).
UNUSED_BY_HEALTH = (
    *FORBIDDEN, "roboscope.client._async", "roboscope.client._sync.events",
    "roboscope.client._sync.locks", "roboscope.client._sync.marker_sync",
    "roboscope.client._sync.presence", "roboscope.client._sync.retry", "asyncio",
    "roboscope.client.operations.resources", "roboscope.wire.spaces", "roboscope.wire.markers",
    "roboscope.wire.anchors", "roboscope.wire.reference_sets", "roboscope.cli_watch",
    "roboscope.cli_server", "roboscope.cli_database", "click", "rich", "pygments",
)  # fmt: skip


def test_a_real_process_exit_codes_and_imports(server_url: str) -> None:
    """`roboscope …` as a user runs it: JSON on stdout, one-line errors, the right exit
    status; `health` loads the blocking client and the descriptions it uses, nothing else."""
    env = {"ROBOSCOPE_URL": "http://127.0.0.1:9"}
    done, modules = run_reporting_modules("--url", server_url, "--json", "health", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"
    assert {"roboscope.client._sync.client", "roboscope.client.operations.realtime"} <= modules
    assert sorted(m for m in modules if m.startswith(UNUSED_BY_HEALTH)) == []

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
    """All of the SDK (every public name, loaded), every client command and `--help`."""
    code = (
        "import sys\n"
        "from roboscope.client import *\n"
        "from roboscope.wire import *\n"
        "import roboscope.cli_client as c, roboscope.cli_watch\n"
        "apps = [c.app(name) for name in c.COMMANDS]\n"
        "print(*sorted(sys.modules))\n"
    )
    done = python("-c", code)
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    assert {"roboscope.client._async.marker_sync", "roboscope.wire.markers"} <= modules
    assert sorted(m for m in modules if m.startswith(FORBIDDEN)) == []
    helped, modules = run_reporting_modules("--help")
    assert helped.returncode == 0 and "spaces" in helped.stdout
    assert sorted(m for m in modules if m.startswith(FORBIDDEN)) == []


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


# Global options, as gh and kubectl users expect them.


def test_url_token_and_json_work_before_or_after_the_command(server_url: str) -> None:
    down = "http://127.0.0.1:9"
    runner = CliRunner()
    before = runner.invoke(
        app, ["--url", server_url, "--json", "health"], env={"ROBOSCOPE_URL": down}
    )
    after = runner.invoke(
        app, ["health", "--url", server_url, "--json"], env={"ROBOSCOPE_URL": down}
    )
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert json.loads(before.stdout)["status"] == json.loads(after.stdout)["status"] == "ok"
    # The token reaches the server either way (with auth off, whoami says it is not checked).
    for args in (["--token", "rbs_x", "whoami"], ["whoami", "--token", "rbs_x"]):
        run = cli(server_url, *args)
        assert run.code == 0 and "(the token given is not checked)" in run.stdout
    # A global option given before a command that cannot use it is refused, not ignored.
    refused = cli(server_url, "--json", "spaces", "delete", str(uuid.uuid4()))
    assert refused.code == 2
    assert refused.stderr.startswith("error: --json does not apply to `roboscope spaces delete`")
    admin = CliRunner().invoke(app, ["--token", "rbs_x", "db", "current"], prog_name="roboscope")
    assert (
        admin.exit_code == 2 and "--token does not apply to `roboscope db current`" in admin.stderr
    )


def test_objects_print_text_and_json_with_the_flag(
    server_url: str, session: dict[str, Any]
) -> None:
    text = cli(server_url, "sessions", "get", session["id"])
    assert text.code == 0 and text.stdout.splitlines()[0] == f"id            {session['id']}"
    assert "status        draft" in text.stdout.splitlines()
    assert json.loads(cli(server_url, "sessions", "get", session["id"], "--json").stdout) == session
    grant = cli(server_url, "lock", "acquire", session["id"])
    fields = dict(line.split(maxsplit=1) for line in grant.stdout.splitlines())
    assert grant.code == 0 and fields["acquired"] == "yes"
    token = fields["token"]
    assert ok(server_url, "lock", "release", session["id"], token) == {"released": True}


def test_lists_show_a_limited_page_and_all_on_request(
    server_url: str, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = session["id"]
    for label in "ABCDE":
        ok(server_url, "markers", "create", "--session", sid, *SQUARE_ARGS, "--label", label)
    two = cli(server_url, "markers", "list", "--session", sid, "--limit", "2", "--json")
    assert [m["label"] for m in two.json] == ["A", "B"]
    assert two.stderr == "showing the first 2: --limit N or --all for more\n"
    table = cli(server_url, "markers", "list", "--session", sid, "--limit", "5")
    assert len(table.stdout.splitlines()) == 6 and table.stderr == ""  # nothing was left
    # --all follows the Link of every page (here two markers a page).
    monkeypatch.setattr("roboscope.cli_client.PAGE_SIZE", 2)
    every = cli(server_url, "markers", "list", "--session", sid, "--all", "--json")
    assert [m["label"] for m in every.json] == list("ABCDE") and every.stderr == ""
    both = cli(server_url, "markers", "list", "--all", "--limit", "2")
    assert both.code == 2 and both.stderr == "error: --all: give --limit or --all, not both\n"
    # Lists the server does not page are cut the same way.
    for run in range(3):
        ok(server_url, "anchors", "upsert", "--session", sid, "--run", str(run), "--local-z", "0",
           "--position", "0,0,0")  # fmt: skip
    anchors = cli(server_url, "anchors", "list", "--session", sid, "--limit", "2", "--json")
    assert len(anchors.json) == 2 and anchors.stderr.startswith("showing the first 2")


def test_the_version_imports_nothing_but_the_cli() -> None:
    """`--version` loads no command: no SDK, no server, no pydantic (it starts at once)."""
    done, loaded = run_reporting_modules("--version")
    assert done.returncode == 0 and done.stdout.startswith("roboscope ")
    assert "roboscope.cli" in loaded
    commands = ("roboscope.cli_client", "roboscope.cli_server", "roboscope.cli_database",
                "roboscope.cli_watch")  # fmt: skip
    unused = (*commands, "roboscope.client", "roboscope.wire", "httpx", "pydantic", *FORBIDDEN)
    assert sorted(m for m in loaded if m.startswith(unused)) == []


# watch


def test_watch_against_an_unreachable_server_is_one_line() -> None:
    """It used to retry forever, silently."""
    done = roboscope("--url", "http://127.0.0.1:9", "watch", str(uuid.uuid4()))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: cannot reach http://127.0.0.1:9/api/v1/work-sessions/")
    assert done.stderr.count("\n") == 1


def test_watch_shows_a_cursor_on_data_changes_only(
    server_url: str, session: dict[str, Any]
) -> None:
    """Presence and lock events carry no cursor (a stream cannot resume after them); the
    text lines show none either."""
    sid = session["id"]
    env = {**os.environ, "ROBOSCOPE_URL": server_url}
    lines: dict[str, list[str]] = {}
    for mode in ("--json", "text"):
        command = [sys.executable, "-m", "roboscope", "watch", sid]
        with subprocess.Popen(
            [*command, *(["--json"] if mode == "--json" else [])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        ) as watcher:  # fmt: skip
            assert watcher.stdout is not None
            seen = [watcher.stdout.readline() for _ in range(2)]  # the snapshots
            ok(server_url, "markers", "create", "--session", sid, *SQUARE_ARGS, "--label", mode)
            seen.append(watcher.stdout.readline())
            ok(server_url, "presence", "beat", sid, "--user", f"ann-{mode}")
            seen.append(watcher.stdout.readline())
            watcher.terminate()
        lines[mode] = seen
    events = [json.loads(line) for line in lines["--json"]]
    assert [e["event"] for e in events] == [
        "presence.snapshot", "lock.snapshot", "marker.created", "presence.joined"
    ]  # fmt: skip
    assert ["cursor" in e for e in events] == [False, False, True, False]
    text = lines["text"]
    assert "#" in text[2].split("marker.created")[1].split()[0]
    assert "#" not in text[3]


# whoami


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with ROBOSCOPE_AUTH=required, and its tokens by name (one revoked)."""
    data_dir = tmp_path_factory.mktemp("guarded")
    env = {"ROBOSCOPE_AUTH": "required"}
    if redis_url := os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    with running_server(data_dir, env=env) as server:
        made = {}
        for name, extra in (
            ("ann-ipad", ["--user", "ann"]),
            ("gone", []),
            ("reader", ["--scope", "read"]),
        ):
            done = run_command("tokens", "create", name, *extra, data_dir=data_dir, env=env)
            assert done.returncode == 0, done.stderr
            made[name] = done.stdout.strip()
        assert run_command("tokens", "revoke", "gone", data_dir=data_dir, env=env).returncode == 0
        yield server.url, made


def test_whoami_shows_the_token_or_why_it_is_refused(
    guarded: tuple[str, dict[str, str]],
) -> None:
    url, made = guarded
    mine = cli(url, "--token", made["ann-ipad"], "whoami")
    assert mine.code == 0, mine.stderr
    assert mine.stdout.startswith("token ann-ipad (") and "scope write, user ann" in mine.stdout
    reader = cli(url, "whoami", "--token", made["reader"], "--json")
    assert (reader.json["scope"], reader.json["token"]["name"]) == ("read", "reader")
    assert reader.json["auth"] == "required" and "secret_hash" not in reader.json["token"]
    revoked = cli(url, "whoami", "--token", made["gone"])
    assert revoked.code == 1 and revoked.stdout == ""
    assert revoked.stderr.startswith("error: 401 invalid_token: the bearer token has been revoked")
    none = cli(url, "whoami")
    assert none.code == 1 and "requires an API token" in none.stderr
