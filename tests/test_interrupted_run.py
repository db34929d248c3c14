"""`./dev test` stopped with SIGTERM leaves nothing running: the in-process app's embedded
Redis is stopped like after Ctrl-C (it used to outlive the run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi import FastAPI

from roboscope.processes import pid_alive
from roboscope.settings import Settings

PROBE = "ROBOSCOPE_TEST_INTERRUPT_PROBE"
"""Set by the outer test: where the inner run writes its embedded Redis's pid."""


@pytest.mark.skipif(PROBE not in os.environ, reason="the inner run of the test below")
def test_probe_holds_an_embedded_redis_until_stopped(settings: Settings, app: FastAPI) -> None:
    assert settings.redis_url is None  # the app started an embedded Redis for the run
    Path(os.environ[PROBE]).write_text((settings.data_dir / "redis.pid").read_text())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the outer test stops the run
        time.sleep(0.1)
    pytest.fail("the run was not stopped")


def test_a_run_stopped_with_sigterm_stops_its_embedded_redis(tmp_path: Path) -> None:
    probe = tmp_path / "redis.pid"
    hidden = ("ROBOSCOPE_", "CI", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(hidden)}
    probe_test = f"{__file__}::{test_probe_holds_an_embedded_redis_until_stopped.__name__}"
    command = [sys.executable, "-m", "pytest", probe_test, "-k", "sqlite", "-p", "no:cacheprovider"]
    with subprocess.Popen(
        command, env={**env, PROBE: str(probe)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as run:
        deadline = time.monotonic() + 120
        while not probe.exists() or not probe.read_text().strip():
            assert run.poll() is None, run.stdout.read() if run.stdout else ""
            assert time.monotonic() < deadline, "the inner run never started its Redis"
            time.sleep(0.05)
        pid = int(probe.read_text())
        assert pid_alive(pid)
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
    assert not pid_alive(pid), output.decode(errors="replace")
