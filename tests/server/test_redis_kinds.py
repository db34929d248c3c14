"""`ROBOSCOPE_REDIS_URL` names one Redis, a Sentinel set or a Redis Cluster (with TLS and
passwords): every form is parsed at start and a malformed one is refused in one line; `serve`
says which kind it runs on; `/health/ready` and `/metrics` name the kind and the servers."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from roboscope.redis_endpoints import parse
from roboscope.settings import Settings, problems

from ..conftest import require_topologies
from ..redis_topologies import redis_cluster
from ..servers import run_command, running_server


@pytest.mark.parametrize(
    ("url", "kind", "nodes", "service", "db", "tls"),
    [
        ("redis://cache:6380/2", "single", [("cache", 6380)], None, 2, False),
        ("rediss://:pw@cache", "single", [("cache", 6379)], None, 0, True),
        (
            "redis+sentinel://s1,s2:26380/mymaster",
            "sentinel",
            [("s1", 26379), ("s2", 26380)],
            "mymaster",
            0,
            False,
        ),
        ("rediss+sentinel://u:p@s1:1/primary/3", "sentinel", [("s1", 1)], "primary", 3, True),
        (
            "redis+cluster://[::1]:7000,c2:7001/0",
            "cluster",
            [("::1", 7000), ("c2", 7001)],
            None,
            0,
            False,
        ),
        ("rediss+cluster://:a%40b@c1", "cluster", [("c1", 6379)], None, 0, True),
    ],
)
def test_every_kind_of_redis_url_is_understood(
    url: str,
    kind: str,
    nodes: list[tuple[str, int]],
    service: str | None,
    db: int,
    tls: bool,
) -> None:
    endpoint = parse(url)
    assert (endpoint.kind, list(endpoint.nodes), endpoint.service, endpoint.db, endpoint.tls) == (
        kind,
        nodes,
        service,
        db,
        tls,
    )
    assert Settings(redis_url=url).redis_url == url


def test_passwords_and_tls_options_are_read_from_the_url() -> None:
    endpoint = parse(
        "rediss+sentinel://app:s%2Fcret@s1:26379/mymaster/0"
        "?sentinel_password=watch&ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=Required"
        "&ssl_check_hostname=false"
    )
    assert (endpoint.username, endpoint.password) == ("app", "s/cret")
    assert endpoint.sentinel_password == "watch"
    assert endpoint.tls_options == {
        "ssl_ca_certs": "/etc/ca.pem",
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": False,
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cache:6379", "scheme http:// is not supported"),
        ("redis+sentinel://s1:26379", "names no primary"),
        ("redis+sentinel://s1:26379/m/0/x", "has a path beyond /service/db"),
        ("redis+cluster://c1:7000/3", "a Redis Cluster has only database 0"),
        ("redis+cluster://c1:7000,,c2:7001", "has an empty host in its list"),
        ("redis://cache:port/0", "port of 'cache:port' is not a number"),
        ("redis://a:1,b:2/0", "names several hosts"),
        ("redis://cache/zero", "database 'zero' is not a number"),
        ("redis://cache/0?socket_timeout=5", "ROBOSCOPE_REDIS_TIMEOUT_SECONDS"),
        ("redis://cache/0?ssl_cert_reqs=none", "has TLS options but no TLS scheme"),
        ("rediss://cache/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of"),
        ("redis+cluster://c1:7000?sentinel_password=x", "unsupported parameter"),
        ("unix://", "names a socket path"),
        ("redis://", "names no host; e.g. redis://redis.internal:6379/0"),
        ("redis+cluster://", "names no host; e.g. redis+cluster://host1:7000,host2:7001"),
        ("redis+sentinel:///mymaster", "names no host; e.g. redis+sentinel://host1:26379"),
    ],
)
def test_a_malformed_redis_url_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings(redis_url=url)
    [line] = problems(caught.value)  # type: ignore[arg-type]
    assert line.startswith("ROBOSCOPE_REDIS_URL (") and reason in line


def test_serve_refuses_a_malformed_redis_url_in_one_line(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_REDIS_URL": "redis+sentinel://:s3cret@s1:26379,s2:26379"}
    result = run_command("serve", data_dir=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: ROBOSCOPE_REDIS_URL (redis+sentinel://:***@s1:26379,s2:26379)")
    assert "names no primary" in line


def _node_samples(metrics: str) -> set[tuple[str, str, str]]:
    return {
        (s.labels["kind"], s.labels["address"], s.labels["role"])
        for family in text_string_to_metric_families(metrics)
        if family.name == "roboscope_redis_node"
        for s in family.samples
    }


def _gauge(metrics: str, name: str) -> float:
    return next(
        s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == name
    )


def test_a_cluster_over_tls_with_a_password(tmp_path: Path) -> None:
    """`serve` says it is on a cluster (not its password), answers presence and locks
    through it, and its ready probe and metrics list the cluster's primaries."""
    require_topologies(tls=True)
    with (
        redis_cluster(password="s3cret/pw", tls=True) as cluster,
        running_server(tmp_path / "api", env={"ROBOSCOPE_REDIS_URL": cluster.url}) as api,
    ):
        [summary] = [line for line in api.log.read_text().splitlines() if "roboscope " in line]
        assert "(Redis Cluster over TLS, 6 seed nodes)" in summary
        assert "s3cret" not in api.log.read_text() and "rediss+cluster://:***@" in summary
        session = str(uuid.uuid4())
        with httpx.Client(base_url=api.api) as http:
            assert http.post(f"/presence/{session}", json={"user_id": "ann"}).status_code == 200
            assert http.post(f"/locks/{session}", json={}).json()["acquired"] is True
            ready = http.get("/health/ready").json()
            metrics = httpx.get(f"{api.url}/metrics").text
        primaries = {row["address"] for row in cluster.shards() if row["primary"]}
        assert ready["status"] == "ready" and ready["redis_kind"] == "cluster"
        assert {n["address"] for n in ready["redis_nodes"] if n["role"] == "primary"} == primaries
        assert {a for kind, a, role in _node_samples(metrics) if role == "primary"} == primaries
        assert {kind for kind, _, _ in _node_samples(metrics)} == {"cluster"}
        assert _gauge(metrics, "roboscope_presence_members") == 1
        assert _gauge(metrics, "roboscope_locks_held") == 1
