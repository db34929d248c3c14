"""Access control across real server processes (ROBOSCOPE_AUTH=required): a token made or
revoked with `roboscope tokens` takes effect at once on every process, and the live stream
takes the Bearer header (the SDK's `token=`) or a query token made on another process."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from roboscope.cli import app
from roboscope.client import Client, Unauthorized
from roboscope.db.migrate import upgrade

from ..conftest import create_postgres_database, require_service
from ..servers import ServerProcess, run_command, running_server


@pytest.fixture(params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, shared_redis_url: str
) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    else:
        shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
        url = create_postgres_database(shared, f"{shared.database}_auth", fresh=True)
    upgrade(url)
    yield {
        "ROBOSCOPE_DATABASE_URL": url,
        "ROBOSCOPE_REDIS_URL": shared_redis_url,
        "ROBOSCOPE_AUTH": "required",
    }


@pytest.fixture
def two(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with running_server(tmp_path / "a", env=env) as a, running_server(tmp_path / "b", env=env) as b:
        yield a, b


def tokens(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    done = run_command("tokens", *args, data_dir=tmp_path / "cli", env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_revoked_token_stops_at_once_on_every_process(
    tmp_path: Path, env: dict[str, str], two: tuple[ServerProcess, ServerProcess]
) -> None:
    secret = tokens(tmp_path, env, "create", "field-ipad", "--user", "ann")
    header = {"Authorization": f"Bearer {secret}"}
    for server in two:
        assert httpx.get(f"{server.api}/spaces", headers=header).status_code == 200
    # The client commands: ROBOSCOPE_TOKEN or --token; without one, one line.
    url = {"ROBOSCOPE_URL": two[0].url}
    runner = CliRunner()
    listed = runner.invoke(app, ["spaces", "list"], env={**url, "ROBOSCOPE_TOKEN": secret})
    assert listed.exit_code == 0, listed.stderr
    assert runner.invoke(app, ["--token", secret, "sessions", "list"], env=url).exit_code == 0
    refused = runner.invoke(app, ["spaces", "list"], env=url)
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        "error: 401 unauthorized: this server requires an API token: send `Authorization: "
        "Bearer <token>` (give an API token: --token or ROBOSCOPE_TOKEN)"
    ]
    assert "revoked" in tokens(tmp_path, env, "revoke", "field-ipad")
    for server in two:  # the very next request, on either process
        answer = httpx.get(f"{server.api}/spaces", headers=header)
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_token"
        assert answer.headers["www-authenticate"] == (
            'Bearer realm="roboscope", error="invalid_token"'
        )
    # The secret appears in neither server's log.
    for server in two:
        assert secret not in server.log.read_text(errors="replace")


def _first_event(response: httpx.Response) -> str:
    for line in response.iter_lines():
        if line.startswith("event:"):
            return line.removeprefix("event:").strip()
    raise AssertionError("the stream ended without an event")


def test_the_stream_takes_the_header_or_a_query_token_from_another_process(
    tmp_path: Path, env: dict[str, str], two: tuple[ServerProcess, ServerProcess]
) -> None:
    a, b = two
    admin = tokens(tmp_path, env, "create", "ops", "--scope", "admin")
    reader = tokens(tmp_path, env, "create", "viewer", "--scope", "read", "--expires", "1h")
    with Client(a.url, token=admin) as api:
        space = api.http.post("/spaces", json={"key": "s", "name": "S"}).json()
        session = api.http.post(
            "/work-sessions", json={"space_id": space["id"], "session_type": "inspection"}
        ).json()["id"]
    # The SDK's token= reaches the stream too.
    with Client(b.url, token=reader) as viewer:
        first = next(iter(viewer.events(session)))
        assert first.name == "presence.snapshot"
        query = viewer.stream_token(session).token
    with Client(b.url) as anonymous, pytest.raises(Unauthorized):
        next(iter(anonymous.events(session)))
    # A query token made on b works on a's stream (it lives in the shared Redis).
    url = f"{a.api}/work-sessions/{session}/events"
    with httpx.stream("GET", url, params={"access_token": query}, timeout=10) as stream:
        assert stream.status_code == 200
        assert _first_event(stream) == "presence.snapshot"
    # Revoking the token that made it ends the query token too.
    tokens(tmp_path, env, "revoke", "viewer")
    refused = httpx.get(url, params={"access_token": query}, timeout=10)
    assert refused.status_code == 401
    listed = json.loads(tokens(tmp_path, env, "list", "--json"))
    assert {t["name"]: t["revoked_at"] is not None for t in listed} == {
        "ops": False,
        "viewer": True,
    }
    assert all("secret_hash" not in t and "token" not in t for t in listed)


def test_tokens_commands_refuse_wrong_input_in_one_line(
    tmp_path: Path, env: dict[str, str]
) -> None:
    tokens(tmp_path, env, "create", "taken")
    cases = [
        (("create", "taken"), "already exists"),
        (("create", "x", "--scope", "root"), "--scope"),
        (("create", "x", "--expires", "tomorrow"), "--expires"),
        (("create", "bad name"), "NAME"),
        (("revoke", "nobody"), "no token named 'nobody'"),
    ]
    for args, words in cases:
        done = run_command("tokens", *args, data_dir=tmp_path / "cli", env=env)
        assert done.returncode != 0, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], (
            args,
            done.stderr,
        )
        assert "Traceback" not in done.stderr
    table = tokens(tmp_path, env, "list").splitlines()
    assert table[0].split() == ["NAME", "ID", "USER", "SCOPE", "STATE", "CREATED", "EXPIRES"]
    assert table[1].split()[0] == "taken" and "active" in table[1]


def test_tokens_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()  # a database with no schema yet
    env = {"ROBOSCOPE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
    done = run_command("tokens", "list", data_dir=tmp_path / "cli", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: the database schema is not up to date; run `roboscope db upgrade` first"
    )


def test_serve_warns_on_a_public_host_with_auth_off(tmp_path: Path) -> None:
    """The warning comes before the server binds: a port that is taken ends the run."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run_command(
            "serve", "--host", "0.0.0.0", "--port", port, data_dir=tmp_path / "data", timeout=60
        )
        quiet = run_command(
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            port,
            data_dir=tmp_path / "data",
            env={"ROBOSCOPE_AUTH": "required"},
            timeout=60,
        )
    assert "ROBOSCOPE_AUTH is off and the server listens on 0.0.0.0" in done.stderr
    assert "ROBOSCOPE_AUTH is off" not in quiet.stderr
