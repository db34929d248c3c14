"""The benchmark still runs and produces numbers (never how fast: timings are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from roboscope.server.app import create_app
from roboscope.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


async def test_baseline_route_exists_only_when_enabled(tmp_path: Path) -> None:
    redis_url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    for enabled, expected in ((False, 404), (True, 200)):
        settings = Settings(data_dir=tmp_path, redis_url=redis_url, benchmark_routes=enabled)
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.post("/api/v1/_bench/set-nx")
                assert answer.status_code == expected
                schema = (await client.get("/api/v1/openapi.json")).json()
                assert not any("_bench" in path for path in schema["paths"])


def test_bench_runs_and_reports(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ROBOSCOPE_REDIS_URL"}
    if os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        env["ROBOSCOPE_REDIS_URL"] = os.environ["ROBOSCOPE_TEST_REDIS_URL"]
    report = tmp_path / "report.json"
    args = ["--duration", "0.5", "--warmup", "0.2", "--rounds", "1", "--clients", "8"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.realtime", *args, "--json", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = {row["scenario"]: row for row in json.loads(report.read_text())["summary"]}
    assert set(summary) == {"baseline", "lock cycle", "presence"}
    for row in summary.values():
        assert row["requests_per_s"] > 0 and row["errors"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert "req ratio" in done.stdout
