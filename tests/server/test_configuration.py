"""Configuration mistakes get one clear line at start (never a traceback); `serve` says what
it runs on; a database that is missing or refuses us is named in 503s and in /health."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from roboscope.settings import Settings, problems, unknown_variables

from ..conftest import require_service
from ..servers import run_command, start_server


def _one_error(result: object, expected: str) -> None:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        f"error: {expected}"
    ]


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_default_ttl_above_the_maximum_is_refused(tmp_path: Path, command: list[str]) -> None:
    env = {"ROBOSCOPE_LOCK_DEFAULT_TTL_SECONDS": "7200"}
    result = run_command(*command, data_dir=tmp_path, env=env)
    _one_error(
        result,
        "ROBOSCOPE_LOCK_DEFAULT_TTL_SECONDS (7200) is above ROBOSCOPE_LOCK_MAX_TTL_SECONDS (3600)",
    )


def test_non_positive_ttl_is_refused(tmp_path: Path) -> None:
    result = run_command("serve", data_dir=tmp_path, env={"ROBOSCOPE_LOCK_MAX_TTL_SECONDS": "0"})
    assert result.returncode == 2
    assert "error: ROBOSCOPE_LOCK_MAX_TTL_SECONDS (0)" in result.stderr
    assert "Traceback" not in result.stderr


def test_unsupported_database_scheme_is_refused_with_the_supported_forms(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_DATABASE_URL": "mysql://me:secret@db/roboscope"}
    result = run_command("serve", data_dir=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: ROBOSCOPE_DATABASE_URL (mysql://me:***@db/roboscope)")
    assert "postgresql://" in line and "sqlite:///" in line


def test_every_problem_gets_its_line() -> None:
    with pytest.raises(ValueError) as caught:
        Settings(database_url="ftp://x", redis_url="http://y", presence_ttl_seconds=-1)
    lines = problems(caught.value)  # type: ignore[arg-type]
    assert [line.split(" ", 1)[0] for line in lines] == [
        "ROBOSCOPE_DATABASE_URL",
        "ROBOSCOPE_REDIS_URL",
        "ROBOSCOPE_PRESENCE_TTL_SECONDS",
    ]


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:////tmp/r.db", "sqlite+aiosqlite:////tmp/r.db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
        # libpq's sslmode, as managed databases hand it out, is asyncpg's ssl
        ("postgres://u:p@h/db?sslmode=require", "postgresql+asyncpg://u:p@h/db?ssl=require"),
        (
            "postgresql://u@/db?host=a:5432&host=b:5432&target_session_attrs=read-write",
            "postgresql+asyncpg://u@/db?host=a%3A5432&host=b%3A5432&target_session_attrs=read-write",
        ),
    ],
)
def test_plain_database_urls_mean_the_async_drivers(given: str, meant: str) -> None:
    assert Settings(database_url=given).database_url == meant


def test_database_url_parameters_asyncpg_would_refuse_are_named_at_start(tmp_path: Path) -> None:
    """Passed on to asyncpg, they would fail every connection with a TypeError."""
    env = {"ROBOSCOPE_DATABASE_URL": "postgresql://me:secret@db/roboscope?application_name=x"}
    result = run_command("db", "current", data_dir=tmp_path, env=env)
    _one_error(
        result,
        "ROBOSCOPE_DATABASE_URL (postgresql://me:***@db/roboscope?application_name=x): has "
        "unsupported parameters application_name; supported: sslmode, ssl, host, "
        "target_session_attrs, passfile, direct_tls, krbsrvname, gsslib, "
        "prepared_statement_cache_size",
    )


def test_unknown_variables_are_named_with_the_closest_known_one() -> None:
    environ = {
        "ROBOSCOPE_DATABSE_URL": "x",
        "ROBOSCOPE_URL": "client",
        "ROBOSCOPE_TEST_REDIS_URL": "tests",
        "ROBOSCOPE_BENCH_POSTGRESQL_URL": "bench",
        "ROBOSCOPE_LOCK_MAX_TTL_SECONDS": "60",
        "ROBOSCOPE_WHATEVER": "1",
        "PATH": "/bin",
        # Kubernetes' service links for a Service named roboscope: not ours, never refused.
        "ROBOSCOPE_SERVICE_HOST": "10.0.0.7",
        "ROBOSCOPE_SERVICE_PORT": "8080",
        "ROBOSCOPE_SERVICE_PORT_HTTP": "8080",
        "ROBOSCOPE_PORT": "tcp://10.0.0.7:8080",
        "ROBOSCOPE_PORT_8080_TCP": "tcp://10.0.0.7:8080",
        "ROBOSCOPE_PORT_8080_TCP_ADDR": "10.0.0.7",
    }
    assert unknown_variables(environ) == [
        "ROBOSCOPE_DATABSE_URL is not a Roboscope setting; did you mean "
        "ROBOSCOPE_DATABASE_URL? (unset it, or spell it right)",
        "ROBOSCOPE_WHATEVER is not a Roboscope setting (unset it, or spell it right)",
    ]
    # Derived from the model: every field is known.
    assert (
        unknown_variables({f"ROBOSCOPE_{name.upper()}": "" for name in Settings.model_fields}) == []
    )


def test_a_misspelt_setting_stops_the_server_before_it_serves(tmp_path: Path) -> None:
    """`ROBOSCOPE_AUHT=required` must not start a server with open access."""
    result = run_command(
        "serve", "--port", "0", data_dir=tmp_path, env={"ROBOSCOPE_AUHT": "required"}
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: ROBOSCOPE_AUHT is not a Roboscope setting; did you mean ROBOSCOPE_AUTH? "
        "(unset it, or spell it right)\n"
    )


def test_db_upgrade_accepts_a_plain_postgresql_url(tmp_path: Path) -> None:
    real = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    plain = real.set(drivername="postgresql").render_as_string(hide_password=False)
    result = run_command("db", "upgrade", data_dir=tmp_path, env={"ROBOSCOPE_DATABASE_URL": plain})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"database {real.database} on ")
    assert result.stdout.rstrip().endswith(" (head)")


def _missing_database_url() -> str:
    real = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    return real.set(database="roboscope_no_such_db").render_as_string(hide_password=False)


def test_db_upgrade_of_a_missing_database_is_one_line(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_DATABASE_URL": _missing_database_url()}
    result = run_command("db", "upgrade", data_dir=tmp_path, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: database roboscope_no_such_db on {_host_port()} does not exist"
    ]


def _host_port() -> str:
    real = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    return f"{real.host}:{real.port or 5432}"


def test_serve_on_a_missing_database_says_so_and_answers_503(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"ROBOSCOPE_DATABASE_URL": _missing_database_url()}
    server = start_server(data_dir, env=env, healthy=False)
    try:
        response = httpx.get(f"{server.api}/spaces")
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        body = response.json()
        assert body["error"] == "service_unavailable"
        assert "roboscope_no_such_db" in body["message"]
        assert "does not exist" in body["message"]
        health = httpx.get(f"{server.api}/health")
        assert health.status_code == 503
        assert health.json()["database"] == "down"
        assert "roboscope_no_such_db" in health.json()["database_error"]
    finally:
        server.stop()
    assert "warning: database roboscope_no_such_db" in server.log.read_text()


def test_serve_prints_what_it_runs_on_without_secrets(tmp_path: Path) -> None:
    data_dir = tmp_path / "data" / "new"  # created by serve itself
    env = {"ROBOSCOPE_DATA_DIR": str(data_dir)}
    server = start_server(tmp_path / "data", env=env)
    try:
        port = server.url.rsplit(":", 1)[1]
        log = server.log.read_text()
        (summary,) = [line for line in log.splitlines() if line.startswith("roboscope ")]
        assert f"database sqlite+aiosqlite:///{data_dir.resolve() / 'roboscope.db'}" in summary
        assert f"redis embedded (unix://{data_dir.resolve() / 'redis.sock'})" in summary
        assert f"data dir {data_dir.resolve()}" in summary
        assert f"docs http://127.0.0.1:{port}/api/v1/docs" in summary
        # Local files are private to the user.
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("roboscope.db", "redis.log"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
        httpx.post(f"{server.api}/spaces", json={"key": "wal", "name": "x"}).raise_for_status()
        wal = data_dir / "roboscope.db-wal"
        if wal.exists():
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_serve_masks_passwords_in_its_summary(tmp_path: Path) -> None:
    real = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    with_password = real.set(password="s3cret-pw").render_as_string(hide_password=False)
    redis_url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_with_password = redis_url.replace("redis://", "redis://:r3dis-pw@", 1)
    env = {"ROBOSCOPE_DATABASE_URL": with_password, "ROBOSCOPE_REDIS_URL": redis_with_password}
    server = start_server(tmp_path / "data", env=env, healthy=False)
    server.stop()
    log = server.log.read_text()
    assert "s3cret-pw" not in log and "r3dis-pw" not in log
    (summary,) = [line for line in log.splitlines() if line.startswith("roboscope ")]
    assert f"@{real.host}:{real.port or 5432}/{real.database}" in summary
    assert "redis redis://:***@" in summary


def test_workers_or_a_public_host_without_redis_url_warn_that_state_is_local(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data", workers=2, timeout=120)
    server.stop()
    assert "presence and locks live in an embedded Redis local to this machine" in (
        server.log.read_text()
    )


def test_a_data_dir_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").touch()
    env = {"ROBOSCOPE_DATA_DIR": str(tmp_path / "a-file" / "data")}
    result = run_command("serve", data_dir=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: ROBOSCOPE_DATA_DIR ({tmp_path / 'a-file' / 'data'}): cannot be created: "
        "Not a directory"
    )


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_a_server_command_without_the_server_extra_is_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    """`pip install roboscope` is the SDK and the client commands; the server commands then
    say what to install instead of failing on an import."""
    hide = "import sys; sys.modules['uvicorn'] = sys.modules['alembic'] = None"
    run = "from roboscope.cli import app; app()"
    result = subprocess.run(
        [sys.executable, "-c", f"{hide}; {run}", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "ROBOSCOPE_DATA_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: `roboscope {' '.join(command)}` needs the server, which this install lacks "
        "(uvicorn, alembic): pip install 'roboscope[server]'"
    ]
