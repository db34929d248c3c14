"""Real Redis topologies for tests and benchmarks: a Redis Cluster and a Sentinel set, made of
`redis-server` processes on free loopback ports, started here and torn down after.

Nothing is faked: the processes are the `redis-server` and `redis-cli` of the machine (Redis
7 or later for the cluster's sharded pub/sub), the cluster is created with `redis-cli
--cluster create`, slots move with `redis-cli --cluster reshard`, and a node dies with
SIGKILL. Every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
HOST = "127.0.0.1"
START_ATTEMPTS = 5


class TopologyError(RuntimeError):
    """A topology did not come up (or did not reach a state) in time; the logs say why."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 30.0) -> float:
    """Poll `condition` until it holds; the seconds it took. TopologyError after `timeout`."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise TopologyError(f"{what}: not reached within {timeout:g} s")
        time.sleep(0.05)


@dataclass
class RedisNode:
    """One `redis-server` process (a data node or a sentinel)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    sentinel: bool = False
    password: str | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            HOST,
            self.port,
            password=self.password,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def answers(self) -> bool:
        with self.client(0.5) as client:
            return bool(client.ping())

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last write (`kill -9`)."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_node(
    directory: Path, config: list[str], *, sentinel: bool = False, password: str | None = None
) -> RedisNode:
    """A `redis-server` on a free loopback port with `config` (`name value` lines); retried
    on another port when a concurrent process took the one chosen."""
    directory.mkdir(parents=True, exist_ok=True)
    last = ""
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        lines = [
            f"port {port}",
            f"bind {HOST}",
            f"dir {directory}",
            "logfile redis.log",
            "daemonize no",
            *([] if sentinel else ['save ""', "appendonly no"]),
            *(line.replace("{port}", str(port)) for line in config),
        ]
        conf = directory / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        args = [REDIS_SERVER, str(conf), *(["--sentinel"] if sentinel else [])]
        process = subprocess.Popen(
            args, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        node = RedisNode(port, directory, process, sentinel, password)
        try:
            wait_for(f"redis-server on {port}", lambda n=node: n.alive() and n.answers(), 10)
            return node
        except TopologyError:
            last = node.log_tail()
            node.kill()
    raise TopologyError(f"redis-server did not start in {directory}:\n{last}")


# -- Redis Cluster -----------------------------------------------------------------------------


@dataclass
class Cluster:
    """Primaries with one replica each, created by `redis-cli --cluster create`."""

    nodes: list[RedisNode]
    directory: Path
    password: str | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return "redis+cluster://" + auth + ",".join(n.address for n in self.nodes if n.alive())

    def node(self, address: str) -> RedisNode:
        return next(n for n in self.nodes if n.address == address)

    def _any(self) -> RedisNode:
        return next(n for n in self.nodes if n.alive())

    def shards(self) -> list[dict[str, object]]:
        """`CLUSTER NODES` as seen by a live node: id, address, role, slots, state flags."""
        text = self.cli(self._any(), "CLUSTER", "NODES")
        rows = []
        for line in text.strip().splitlines():
            parts = line.split()
            flags = parts[2].split(",")
            slots: list[int] = []
            for item in parts[8:]:
                if item.startswith("["):
                    continue  # a slot being migrated or imported
                first, _, last = item.partition("-")
                slots.extend(range(int(first), int(last or first) + 1))
            rows.append(
                {
                    "id": parts[0],
                    "address": parts[1].split("@")[0],
                    "primary": "master" in flags,
                    "failed": "fail" in flags or "fail?" in flags,
                    "primary_id": parts[3],
                    "slots": slots,
                }
            )
        return rows

    def cli(self, node: RedisNode, *command: str) -> str:
        """A command's raw text answer, through `redis-cli`."""
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        done = subprocess.run(
            [REDIS_CLI, *auth, "-h", HOST, "-p", str(node.port), *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def owner(self, slot: int) -> dict[str, object]:
        """The primary serving `slot` now."""
        return next(r for r in self.shards() if r["primary"] and slot in r["slots"])  # type: ignore[operator]

    def healthy(self) -> bool:
        """Every live node sees the cluster `ok`, every slot served, every live replica synced."""
        for node in self.nodes:
            if not node.alive():
                continue
            with node.client() as client:
                info = client.cluster("INFO")
                if info.get("cluster_state") != "ok" or int(info["cluster_slots_ok"]) != 16384:
                    return False
                replication = client.info("replication")
                if replication["role"] == "slave" and replication["master_link_status"] != "up":
                    return False
        return True

    def wait_healthy(self, timeout: float = 30.0) -> float:
        return wait_for("cluster ok", self.healthy, timeout)

    def reshard(self, source_id: str, target_id: str, count: int) -> None:
        """`redis-cli --cluster reshard`: the `count` lowest slots of the source move to the
        target, keys included."""
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        done = subprocess.run(
            [
                REDIS_CLI,
                *auth,
                "--cluster",
                "reshard",
                self._any().address,
                "--cluster-from",
                source_id,
                "--cluster-to",
                target_id,
                "--cluster-slots",
                str(count),
                "--cluster-yes",
                "--cluster-pipeline",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise TopologyError(f"reshard failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def kill_primary_of(self, slot: int) -> RedisNode:
        """SIGKILL the primary serving `slot`; its replica takes over (see `wait_healthy`)."""
        node = self.node(str(self.owner(slot)["address"]))
        node.kill()
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def redis_cluster(
    primaries: int = 3, *, password: str | None = None, node_timeout_ms: int = 1000
) -> Iterator[Cluster]:
    """A cluster of `primaries` primaries and one replica each, healthy, torn down after."""
    directory = Path(tempfile.mkdtemp(prefix="roboscope-cluster-"))
    nodes: list[RedisNode] = []
    cluster = Cluster(nodes, directory, password)
    auth = [f"requirepass {password}", f"masterauth {password}"] if password else []
    try:
        for index in range(primaries * 2):
            nodes.append(
                start_node(
                    directory / f"node{index}",
                    [
                        "cluster-enabled yes",
                        "cluster-config-file nodes.conf",
                        f"cluster-node-timeout {node_timeout_ms}",
                        f"cluster-port {_free_port()}",
                        # A replica takes over however long it was cut off (tests kill fast).
                        "cluster-replica-validity-factor 0",
                        *auth,
                    ],
                    password=password,
                )
            )
        cli_auth = ["-a", password, "--no-auth-warning"] if password else []
        created = subprocess.run(
            [
                REDIS_CLI,
                *cli_auth,
                "--cluster",
                "create",
                *(n.address for n in nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise TopologyError(f"cluster create failed:\n{created.stdout}\n{created.stderr}")
        cluster.wait_healthy(60)
        yield cluster
    finally:
        cluster.stop()


# -- Sentinel ------------------------------------------------------------------------------------

SERVICE = "mymaster"


@dataclass
class SentinelSet:
    """A primary, its replica and three sentinels watching them (quorum 2)."""

    primary: RedisNode
    replica: RedisNode
    sentinels: list[RedisNode]
    directory: Path
    down_after_ms: int
    extra: list[RedisNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(s.address for s in self.sentinels) + f"/{SERVICE}/0"

    def current_primary(self) -> str:
        """The primary's address as a sentinel that answers reports it."""
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            with contextlib.suppress(redis.RedisError, OSError), sentinel.client() as client:
                host, port = client.sentinel_get_master_addr_by_name(SERVICE)
                return f"{host}:{port}"
        raise TopologyError("no sentinel answers")

    def synced(self) -> bool:
        """The replica is connected to the primary and has everything it was sent."""
        with self.primary.client() as client:
            info = client.info("replication")
        slaves = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return bool(slaves) and all(s.get("state") == "online" for s in slaves)

    def watched(self) -> bool:
        """Every sentinel knows the primary, the replica and the two other sentinels."""
        for sentinel in self.sentinels:
            with sentinel.client() as client:
                master = client.sentinel_master(SERVICE)
                if int(master["num-slaves"]) < 1 or int(master["num-other-sentinels"]) < 2:
                    return False
        return True

    def stop(self) -> None:
        for node in [*self.sentinels, self.primary, self.replica, *self.extra]:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def sentinel_set(
    *, down_after_ms: int = 1000, failover_timeout_ms: int = 4000
) -> Iterator[SentinelSet]:
    directory = Path(tempfile.mkdtemp(prefix="roboscope-sentinel-"))
    started: list[RedisNode] = []
    try:
        primary = start_node(directory / "primary", [])
        started.append(primary)
        replica = start_node(directory / "replica", [f"replicaof {HOST} {primary.port}"])
        started.append(replica)
        sentinels = []
        for index in range(3):
            sentinel = start_node(
                directory / f"sentinel{index}",
                [
                    f"sentinel monitor {SERVICE} {HOST} {primary.port} 2",
                    f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
                    f"sentinel failover-timeout {SERVICE} {failover_timeout_ms}",
                    f"sentinel parallel-syncs {SERVICE} 1",
                ],
                sentinel=True,
            )
            sentinels.append(sentinel)
            started.append(sentinel)
        topology = SentinelSet(primary, replica, sentinels, directory, down_after_ms)
        started.clear()
        try:
            wait_for("replica synced", topology.synced, 30)
            wait_for("sentinels see everything", topology.watched, 30)
            yield topology
        finally:
            topology.stop()
    finally:
        for node in started:
            node.stop()
        shutil.rmtree(directory, ignore_errors=True)


def environment_has_cluster_support() -> str | None:
    """Why the topologies cannot run here (no redis-server or redis-cli, or one older than
    Redis 7), or None."""
    for binary in (REDIS_SERVER, REDIS_CLI):
        if not os.access(binary, os.X_OK):
            return f"{binary} is not installed"
    version = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout
    number = version.split("v=", 1)[-1].split()[0]
    if int(number.split(".")[0]) < 7:
        return f"redis-server {number} has no sharded pub/sub (Redis 7 or later is needed)"
    return None
