"""Access control across real server processes (ROBOSCOPE_AUTH=required): a token made or
revoked with `roboscope tokens` (or over HTTP) takes effect at once on every process, the
streams open with a revoked token end, and the live stream takes the Bearer header (the
SDK's `token=`) or a query token made on another process.

Each test runs its servers on a Redis of its own: the register of the processes that must
confirm a revocation is the whole deployment's, so a shared Redis would count the servers
of other tests too."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from roboscope.cli import app
from roboscope.client import Client, Unauthorized
from roboscope.db.migrate import upgrade
from roboscope.realtime import EmbeddedRedis
from roboscope.realtime.keys import AUTH_PROCESSES

from ..conftest import create_postgres_database, require_service
from ..servers import ServerProcess, free_port, run_command, running_server

STREAM_TIMEOUT = httpx.Timeout(10.0, read=30.0)


@contextmanager
def deployment(tmp_path: Path, database: str) -> Iterator[dict[str, str]]:
    """The environment of servers on a migrated database and a Redis of their own."""
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    else:
        shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
        url = create_postgres_database(shared, f"{shared.database}_auth", fresh=True)
    upgrade(url)
    with EmbeddedRedis(tmp_path / "redis") as own:
        yield {
            "ROBOSCOPE_DATABASE_URL": url,
            "ROBOSCOPE_REDIS_URL": own.url,
            "ROBOSCOPE_AUTH": "required",
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with deployment(tmp_path, request.param) as variables:
        yield variables


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """For what does not depend on the database (the revocation's way to the servers)."""
    with deployment(tmp_path, "sqlite") as variables:
        yield variables


def registered(url: str, pid: int) -> str:
    """The register's entry of the server process `pid`, once it has registered."""
    with redis.Redis.from_url(url, decode_responses=True) as register:
        deadline = time.monotonic() + 30
        while True:
            found = [
                m for m in register.zrange(AUTH_PROCESSES, 0, -1) if json.loads(m)["pid"] == pid
            ]
            if found:
                return str(found[0])
            assert time.monotonic() < deadline, f"process {pid} never registered"
            time.sleep(0.05)


@contextmanager
def two_servers(
    tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes (two hosts: data dirs of their own), both registered to
    confirm revocations."""
    with (  # (info: the request log is on, for the secrets' absence from it to mean something)
        running_server(tmp_path / "a", env=env, log_level="info") as a,
        running_server(tmp_path / "b", env=env, log_level="info") as b,
    ):
        for server in (a, b):
            registered(env["ROBOSCOPE_REDIS_URL"], server.process.pid)
        yield a, b


@pytest.fixture
def two(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with two_servers(tmp_path, env) as servers:
        yield servers


def tokens(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    done = run_command("tokens", *args, data_dir=tmp_path / "cli", env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_session(server: ServerProcess, admin: str) -> str:
    with Client(server.url, token=admin) as api:
        space = api.http.post("/spaces", json={"key": "s", "name": "S"}).json()
        session: str = api.http.post(
            "/work-sessions", json={"space_id": space["id"], "session_type": "inspection"}
        ).json()["id"]
    return session


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each SSE event in a stream's lines, until the stream ends."""
    name = ""
    for line in lines:
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            yield name, line.removeprefix("data:").strip()


def open_stream(stack: ExitStack, url: str, **kwargs: object) -> Iterator[tuple[str, str]]:
    """A live stream, read up to its first event (so it is subscribed); the rest to come."""
    response = stack.enter_context(httpx.stream("GET", url, timeout=STREAM_TIMEOUT, **kwargs))  # type: ignore[arg-type]
    assert response.status_code == 200, response.read()
    events = sse_events(response.iter_lines())
    assert next(events)[0] == "presence.snapshot"
    return events


def ends_with_closing(events: Iterator[tuple[str, str]], reason: str) -> None:
    """The stream's remaining events end with `stream.closing` for `reason`, then it ends
    (the read timeout is the deadline)."""
    rest = list(events)
    assert rest, "the stream ended without a stream.closing event"
    assert rest[-1] == ("stream.closing", json.dumps({"reason": reason}, separators=(",", ":")))


def test_a_revoked_token_stops_at_once_on_every_process(
    tmp_path: Path, env: dict[str, str], two: tuple[ServerProcess, ServerProcess]
) -> None:
    a, b = two
    admin = tokens(tmp_path, env, "create", "ops", "--scope", "admin")
    secret = tokens(tmp_path, env, "create", "field-ipad", "--user", "ann")
    header = {"Authorization": f"Bearer {secret}"}
    for server in two:
        assert httpx.get(f"{server.api}/spaces", headers=header).status_code == 200
    # The client commands: ROBOSCOPE_TOKEN or --token; without one, one line.
    url = {"ROBOSCOPE_URL": a.url}
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
    session = make_session(a, admin)
    query = httpx.post(f"{a.api}/work-sessions/{session}/stream-token", headers=header).json()
    with ExitStack() as stack:
        # Streams open with the token: by header on a, by a query token (made on a) on b.
        on_a = open_stream(stack, f"{a.api}/work-sessions/{session}/events", headers=header)
        on_b = open_stream(
            stack,
            f"{b.api}/work-sessions/{session}/events",
            params={"access_token": query["token"]},
        )
        revoked = run_command("tokens", "revoke", "field-ipad", data_dir=tmp_path / "cli", env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout.strip().endswith("confirmed by 2 server processes")
        for server in two:  # the very next request, on either process
            answer = httpx.get(f"{server.api}/spaces", headers=header)
            assert answer.status_code == 401
            assert answer.json()["error"] == "invalid_token"
            assert answer.headers["www-authenticate"] == (
                'Bearer realm="roboscope", error="invalid_token"'
            )
        # Both streams were told why and ended: resuming gets 401 (no endless reconnects).
        ends_with_closing(on_a, "token_revoked")
        ends_with_closing(on_b, "token_revoked")
    resumed = httpx.get(
        f"{b.api}/work-sessions/{session}/events", params={"access_token": query["token"]}
    )
    assert resumed.status_code == 401
    # Neither secret appears in either server's request log (once the streams' lines are in).
    for server in two:
        deadline = time.monotonic() + 30
        while "/work-sessions/{session_id}/events" not in (log := server.log.read_text()):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        assert secret not in log and query["token"] not in log


@pytest.fixture
def two_on_sqlite(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with two_servers(tmp_path, sqlite_env) as servers:
        yield servers


def test_a_process_that_does_not_confirm_is_named_and_stops_within_the_cache_bound(
    tmp_path: Path, sqlite_env: dict[str, str], two_on_sqlite: tuple[ServerProcess, ServerProcess]
) -> None:
    env, (a, b) = sqlite_env, two_on_sqlite
    secret = tokens(tmp_path, env, "create", "field-ipad", "--user", "ann")
    header = {"Authorization": f"Bearer {secret}"}
    for server in two_on_sqlite:  # both have it in their caches now
        assert httpx.get(f"{server.api}/spaces", headers=header).status_code == 200
    entry = registered(env["ROBOSCOPE_REDIS_URL"], b.process.pid)
    with redis.Redis.from_url(env["ROBOSCOPE_REDIS_URL"], decode_responses=True) as register:
        # b hangs, but stays registered for a minute (as a process whose subscription broke
        # while its registration went on would).
        seconds, micros = register.time()
        register.zadd(AUTH_PROCESSES, {entry: seconds * 1000 + micros // 1000 + 60_000})
        b.process.send_signal(signal.SIGSTOP)
        try:
            done = run_command("tokens", "revoke", "field-ipad", data_dir=tmp_path / "cli", env=env)
        finally:
            b.process.send_signal(signal.SIGCONT)
            register.zrem(AUTH_PROCESSES, entry)
    assert done.returncode == 1
    assert done.stdout.strip().endswith("confirmed by 1 of 2 server processes")
    lines = _problems(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: 1 of 2 server processes did not"), lines
    assert f"pid {b.process.pid}" in lines[0] and "revoked in the database" in lines[0]
    assert httpx.get(f"{a.api}/spaces", headers=header).status_code == 401
    deadline = time.monotonic() + 30  # b: the revocation it missed, or its cache's bound
    while httpx.get(f"{b.api}/spaces", headers=header).status_code != 401:
        assert time.monotonic() < deadline, "b still accepts the revoked token"
        time.sleep(0.1)


def test_revoking_without_the_servers_redis_says_so(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    env = sqlite_env
    tokens(tmp_path, env, "create", "field-ipad")
    closed = {**env, "ROBOSCOPE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    done = run_command("tokens", "revoke", "field-ipad", data_dir=tmp_path / "cli", env=closed)
    assert done.returncode == 1
    assert done.stdout.strip().endswith("no server was told")
    lines = _problems(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: redis is unavailable"), lines
    assert "revoked in the database" in lines[0] and "Traceback" not in done.stderr
    listed = json.loads(tokens(tmp_path, env, "list", "--json"))
    assert listed[0]["revoked_at"] is not None


def test_hosts_that_sign_with_keys_of_their_own_are_refused_at_start(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    """Each data dir makes its own key: two of them on one database and Redis (two hosts)
    would refuse each other's query tokens, so the second does not start."""
    own_key = {**sqlite_env, "ROBOSCOPE_SECRET_KEY": ""}
    with running_server(tmp_path / "a", env=own_key) as a:
        key_file = tmp_path / "a" / "secret.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        port = str(free_port())
        refused = run_command("serve", "--port", port, data_dir=tmp_path / "b", env=own_key)
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines()[-1] == (
            f"error: another server process of this database ({socket.gethostname()} pid "
            f"{a.process.pid}) signs stream tokens with another key (each host made its own "
            "in its data dir): set ROBOSCOPE_SECRET_KEY to one value on every host "
            "(docs/deployment.md)"
        )
        assert httpx.get(f"{a.api}/health").status_code == 200


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
    with Client(b.url) as anonymous, pytest.raises(Unauthorized):
        next(iter(anonymous.events(session)))
    # The SDK's token= reaches the stream too.
    with Client(b.url, token=reader) as viewer:
        events = iter(viewer.events(session))
        assert next(events).name == "presence.snapshot"
        query = viewer.stream_token(session).token
        # A query token made on b works on a's stream (signed with the key they share).
        url = f"{a.api}/work-sessions/{session}/events"
        with httpx.stream("GET", url, params={"access_token": query}, timeout=10) as stream:
            assert stream.status_code == 200
            assert _first_event(stream) == "presence.snapshot"
        # Revoked over HTTP on a: both processes confirmed before the answer...
        with Client(a.url, token=admin) as ops:
            answer = ops.revoke_token("viewer")
        assert answer.propagation.confirmed and answer.propagation.processes == 2
        # ... so b refuses it, and the SDK's stream on b, told `stream.closing`, resumes,
        # gets 401 and raises: it does not reconnect forever.
        header = {"Authorization": f"Bearer {reader}"}
        assert httpx.get(f"{b.api}/spaces", headers=header).status_code == 401
        with pytest.raises(Unauthorized):
            for _ in events:
                pass
    # The query tokens made with it stop too.
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


def test_a_short_secret_key_is_refused_without_being_repeated(tmp_path: Path) -> None:
    done = run_command(
        "serve", data_dir=tmp_path / "data", env={"ROBOSCOPE_SECRET_KEY": "hunter2-too-short"}
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: ROBOSCOPE_SECRET_KEY (***): is shorter than 32 characters"
    ), lines
    assert "hunter2" not in done.stderr + done.stdout


def test_revoke_reaches_a_server_on_the_embedded_default(tmp_path: Path) -> None:
    """No ROBOSCOPE_REDIS_URL: the CLI finds the embedded Redis of the data dir it shares
    with the server; with no server running there is nobody to tell."""
    data = tmp_path / "data"
    auth = {"ROBOSCOPE_AUTH": "required"}
    made = [
        run_command("tokens", "create", name, "--create-database", data_dir=data)
        for name in ("one", "two")
    ]
    assert all(done.returncode == 0 for done in made), [done.stderr for done in made]
    header = {"Authorization": f"Bearer {made[0].stdout.strip()}"}
    with running_server(data, env=auth) as server:
        assert httpx.get(f"{server.api}/spaces", headers=header).status_code == 200
        registered(EmbeddedRedis(data).url, server.process.pid)
        done = run_command("tokens", "revoke", "one", data_dir=data)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith("confirmed by 1 server process")
        assert httpx.get(f"{server.api}/spaces", headers=header).status_code == 401
    done = run_command("tokens", "revoke", "two", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("no server process is running")


def _problems(stderr: str) -> list[str]:
    """The lines of an admin command's stderr but the one naming its database."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("database ")]
