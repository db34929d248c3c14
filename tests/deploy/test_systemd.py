"""The systemd unit: systemd's own checker accepts it (pointed at this venv's `roboscope`),
its hardening scores as systemd rates it, and it runs the real CLI the way the server's
shutdown expects. The env file example names only real settings."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roboscope.cli import app
from roboscope.envfile import read_env_file
from roboscope.settings import Settings, variable_name

from .commands import parsed_command

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "roboscope.service"
ENV_EXAMPLE = ROOT / "deploy" / "roboscope.env.example"
OTHER_VARIABLES = ("ROBOSCOPE_URL", "ROBOSCOPE_TOKEN")
"""ROBOSCOPE_* names the env file may hold that are no server setting: the CLI's (docs/sdk.md)."""
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
}


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return unit_sections(UNIT.read_text())["Service"]


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    message = "systemd-analyze is not installed: the unit cannot be verified"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def local_copy(tmp_path: Path) -> Path:
    """The unit with its paths pointed at this machine: this venv's `roboscope` and the
    example env file (systemd checks that both exist)."""
    roboscope = Path(sys.executable).parent / "roboscope"
    text = UNIT.read_text()
    text = text.replace("/opt/roboscope/bin/roboscope", str(roboscope))
    text = text.replace("/etc/roboscope/roboscope.env", str(ENV_EXAMPLE))
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    return copy


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    unit = local_copy(tmp_path)
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if UNIT.name in line or str(tmp_path) in line
    ]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_systemd_rates_the_hardening_ok(tmp_path: Path) -> None:
    unit = local_copy(tmp_path)
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    # 0 is a sealed box, 10 a service with no protection; "OK" is below 5.
    assert float(found.group(1)) <= 2.0, result.stdout


def test_the_unit_runs_roboscope_serve_as_an_unprivileged_user(
    service: dict[str, list[str]],
) -> None:
    (exec_start,) = service["ExecStart"]
    name, params = parsed_command(shlex.split(exec_start))
    assert name == "serve"
    assert params["host"] == "0.0.0.0"
    assert service.get("DynamicUser") == ["yes"] or service.get("User", ["root"])[-1] != "root"
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{key}={value}"
    assert service["Type"] == ["exec"]
    assert service["Restart"] == ["on-failure"]
    assert service["EnvironmentFile"] == ["/etc/roboscope/roboscope.env"]


def test_the_data_dir_is_the_state_directory(service: dict[str, list[str]]) -> None:
    (state,) = service["StateDirectory"]
    assert f"ROBOSCOPE_DATA_DIR=%S/{state}" in service["Environment"]
    assert service["WorkingDirectory"] == [f"%S/{state}"]


def test_migrations_are_left_to_the_operator(service: dict[str, list[str]]) -> None:
    """Several hosts starting at once must not each migrate the shared database, nor may a
    restart migrate it under processes of the previous version: `roboscope db upgrade` is
    run once per release (docs/deployment.md)."""
    starts = " ".join(service.get("ExecStartPre", []) + service.get("ExecStart", []))
    assert "db upgrade" not in starts


def test_stopping_fits_the_server_shutdown(service: dict[str, list[str]]) -> None:
    """SIGTERM to the main process alone: it ends live streams with `stream.closing` (2 s
    grace), stops its workers and embedded Redis itself; the rest is killed only after."""
    assert service["KillMode"] == ["mixed"]
    assert service["KillSignal"] == ["SIGTERM"]
    (timeout,) = service["TimeoutStopSec"]
    assert timeout.endswith("s") and 10 <= int(timeout[:-1]) <= 90
    assert service["RestartPreventExitStatus"] == ["2"]  # configuration mistakes


def test_the_env_example_names_only_real_settings() -> None:
    known = {variable_name(name) for name in Settings.model_fields} | set(OTHER_VARIABLES)
    lines = [line.strip() for line in ENV_EXAMPLE.read_text().splitlines() if line.strip()]
    assignments = [line.lstrip("#") for line in lines if re.match(r"#?ROBOSCOPE_\w+=", line)]
    assert assignments
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        assert name in known, f"{name} is not a Roboscope setting"
        assert value and " " not in value  # systemd and `docker --env-file` read it alike
    # Uncommented, every line parses as a valid setting.
    values = dict(assignment.split("=", 1) for assignment in assignments)
    fields: dict[str, Any] = {
        name.removeprefix("ROBOSCOPE_").lower(): value for name, value in values.items()
    }
    Settings(**fields)


def test_the_admin_commands_read_the_unit_s_env_file(
    service: dict[str, list[str]], tmp_path: Path
) -> None:
    """`roboscope --env-file <the unit's EnvironmentFile> …` acts on the unit's database:
    the file names the unit's state directory as the data dir, and the CLI reads it over
    the environment (here an empty data dir elsewhere)."""
    (state,) = service["StateDirectory"]
    settings = read_env_file(ENV_EXAMPLE)
    assert settings["ROBOSCOPE_DATA_DIR"] == f"/var/lib/{state}"
    (env_file,) = service["EnvironmentFile"]
    guide = (ROOT / "docs" / "deployment.md").read_text()
    assert f"roboscope --env-file {env_file} db upgrade" in guide
    assert f"roboscope --env-file {env_file} \\\n    tokens create" in guide
    result = CliRunner().invoke(
        app,
        ["--env-file", str(ENV_EXAMPLE), "db", "current"],
        env={"ROBOSCOPE_DATA_DIR": str(tmp_path)},
        prog_name="roboscope",
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: database /var/lib/{state}/roboscope.db does not exist")
