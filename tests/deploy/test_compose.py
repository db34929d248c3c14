"""deploy/compose.cluster.yaml, checked against the code and the tools it runs: its API
services run real `roboscope` commands with settings the server accepts, they reach every
service they name, the cluster is made of all six nodes, and the Redis nodes' command line
starts a real cluster-enabled `redis-server`. (No Docker engine runs here: what it would run
is replayed outside it.)"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import redis
import yaml  # type: ignore[import-untyped]

from roboscope.redis_endpoints import parse
from roboscope.settings import Settings

from ..conftest import require_topologies
from ..redis_topologies import REDIS_SERVER, TopologyError, wait_for
from ..servers import free_port
from .commands import parsed_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.cluster.yaml"
VARIABLE = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _substituted(value: Any) -> Any:
    """Compose's `${NAME:-default}` with the defaults (and `$$` for a literal `$`)."""
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: m.group(2), value).replace("$$", "$")
    if isinstance(value, list):
        return [_substituted(item) for item in value]
    if isinstance(value, dict):
        return {key: _substituted(item) for key, item in value.items()}
    return value


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _substituted(yaml.safe_load(COMPOSE.read_text()))["services"]
    return services


def test_the_api_services_run_roboscope_with_settings_it_accepts() -> None:
    services = _services()
    apis = {name: s for name, s in services.items() if name.startswith("api-")}
    assert len(apis) == 3
    for service in [*apis.values(), services["migrate"]]:
        parsed_command(["roboscope", *service["command"]])  # raises on a wrong command
        fields = {
            key.removeprefix("ROBOSCOPE_").lower(): value
            for key, value in service["environment"].items()
        }
        settings = Settings(**fields)
        endpoint = parse(settings.redis_url or "")
        assert endpoint.kind == "cluster"
        for host, _ in endpoint.nodes:
            assert host in services, f"{host} is not a service of the compose file"
        assert settings.database_url and "@postgres:5432/" in settings.database_url
    assert parsed_command(["roboscope", *services["migrate"]["command"]])[0] == "db"
    for api in apis.values():
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert api["depends_on"]["redis-cluster"]["condition"] == "service_completed_successfully"
    published = [port for api in apis.values() for port in api["ports"]]
    assert len(set(published)) == len(published) == 3


def test_the_cluster_is_made_of_every_redis_node() -> None:
    services = _services()
    nodes = sorted(name for name in services if re.fullmatch(r"redis-\d", name))
    assert len(nodes) == 6
    script = services["redis-cluster"]["command"][0]
    assert "--cluster create" in script and "--cluster-replicas 1" in script
    assert f"for name in {' '.join(nodes)};" in script
    assert set(services["redis-cluster"]["depends_on"]) == set(nodes)


def _start(args: list[str], directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`redis-server ARGS` on a free port (another one if a concurrent process took it)."""
    log = directory / "redis.log"
    for _ in range(5):
        port = free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [REDIS_SERVER, *args, "--port", str(port), "--bind", "127.0.0.1"],
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def listening(process: subprocess.Popen[bytes] = process, port: int = port) -> bool:
            if process.poll() is not None:
                raise TopologyError("exited")
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True

        try:
            wait_for("the node listens", listening, 30)
            return process, port
        except TopologyError:
            process.kill()
            process.wait()
    raise AssertionError(f"redis-server did not start:\n{log.read_text(errors='replace')}")


def test_the_redis_node_command_starts_a_cluster_node(tmp_path: Path) -> None:
    """The nodes' command line, run by the machine's redis-server on a free port: it starts,
    asks for the password, and is cluster-enabled."""
    require_topologies()
    command = _services()["redis-1"]["command"]
    assert command[0] == "redis-server"
    password = command[command.index("--requirepass") + 1]
    process, port = _start(command[1:], tmp_path)
    try:
        client = redis.Redis("127.0.0.1", port, password=password, decode_responses=True)
        assert client.info("cluster")["cluster_enabled"] == 1
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        anonymous = redis.Redis("127.0.0.1", port)
        try:
            anonymous.ping()
            raise AssertionError("the node answered without its password")
        except redis.AuthenticationError:
            pass
    finally:
        process.terminate()
        process.wait(10)
