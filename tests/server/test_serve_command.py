"""`roboscope serve` as an operator meets it: every configuration mistake in one pass, a taken
port in one line, and a start-up line that says whether tokens are checked."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ..servers import run_command, running_server


def errors_of(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [
        line.removeprefix("error: ") for line in stderr.splitlines() if line.startswith("error:")
    ]


def test_every_configuration_mistake_is_reported_in_one_pass(tmp_path: Path) -> None:
    """Settings, the checks of two settings together and the command's own options: all
    of them at once (a check of two settings used to wait until the others were fixed)."""
    env = {
        "ROBOSCOPE_DATABASE_URL": "mysql://db/roboscope",
        "ROBOSCOPE_LOCK_DEFAULT_TTL_SECONDS": "7200",
        "ROBOSCOPE_MAX_BULK_BODY_BYTES": "2048",
        "ROBOSCOPE_CORS_ORIGINS": "*",
    }
    done = run_command(
        "serve", "--log-level", "loud", "--workers", "0", "--host", "no-such-host.invalid",
        data_dir=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 2
    found = errors_of(done.stderr)
    assert [line.split(" ", 1)[0] for line in found] == [
        "ROBOSCOPE_DATABASE_URL",
        "ROBOSCOPE_CORS_ORIGINS",
        "ROBOSCOPE_LOCK_DEFAULT_TTL_SECONDS",
        "ROBOSCOPE_MAX_BULK_BODY_BYTES",
        "--log-level",
        "--workers",
        "--host",
    ]
    assert found[2] == (
        "ROBOSCOPE_LOCK_DEFAULT_TTL_SECONDS (7200) is above ROBOSCOPE_LOCK_MAX_TTL_SECONDS (3600)"
    )
    assert found[4] == "--log-level (loud): use one of debug, info, warning, error, critical"
    assert not (tmp_path / "roboscope.db").exists()


def test_a_check_of_two_settings_is_not_made_with_an_invalid_one(tmp_path: Path) -> None:
    """With ROBOSCOPE_LOCK_MAX_TTL_SECONDS invalid, its check against the default TTL would
    compare with a value nobody gave: only the invalid setting is named."""
    env = {"ROBOSCOPE_LOCK_MAX_TTL_SECONDS": "0", "ROBOSCOPE_LOCK_DEFAULT_TTL_SECONDS": "60"}
    done = run_command("serve", data_dir=tmp_path, env=env)
    assert done.returncode == 2
    (line,) = errors_of(done.stderr)
    assert line.startswith("ROBOSCOPE_LOCK_MAX_TTL_SECONDS (0): ")


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    """uvicorn said it in a log record after starting the app, and exited with status 3."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_command("serve", "--port", str(port), data_dir=tmp_path / "data")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: 127.0.0.1:{port}: address already in use (another server?); "
        "choose another --port\n"
    )


@pytest.mark.parametrize(
    ("auth", "said"), [("off", "auth off (open access)"), ("required", "auth required")]
)
def test_the_start_up_line_says_whether_auth_is_on(tmp_path: Path, auth: str, said: str) -> None:
    with running_server(tmp_path / "data", env={"ROBOSCOPE_AUTH": auth}) as server:
        lines = server.log.read_text().splitlines()
    (summary,) = [line for line in lines if line.startswith("roboscope ")]
    assert summary.split(": ", 1)[1].startswith(f"{said}, database ")
