"""The benchmark runs on a Redis Cluster of its own too, and prints its figures beside the
single Redis's (never how fast: timings are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..conftest import require_topologies

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_on_a_cluster_beside_a_single_redis(tmp_path: Path) -> None:
    require_topologies()
    env = {key: value for key, value in os.environ.items() if key != "ROBOSCOPE_REDIS_URL"}
    if os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        env["ROBOSCOPE_REDIS_URL"] = os.environ["ROBOSCOPE_TEST_REDIS_URL"]
    report = tmp_path / "report.json"
    args = ["--duration", "0.5", "--warmup", "0.2", "--clients", "8", "--workers", "1"]
    args += ["--auth", "off", "--redis", "single,cluster", "--json", str(report)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.realtime", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(report.read_text())["summary"]
    assert {(row["redis"], row["scenario"]) for row in rows} == {
        (redis, scenario)
        for redis in ("single", "cluster")
        for scenario in ("baseline", "lock cycle", "presence")
    }
    assert all(row["requests_per_s"] > 0 and row["errors"] == 0 for row in rows)
    overview = done.stdout.split("All configurations", 1)[1]
    cluster_rows = [line for line in overview.splitlines() if line.startswith("cluster ")]
    assert len(cluster_rows) == 3
