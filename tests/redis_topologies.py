"""Real Redis topologies for tests and benchmarks: a Redis Cluster and a Sentinel set, made of
`redis-server` processes on free loopback ports, started here and torn down after, with a
password and TLS when asked.

Nothing is faked: the processes are the `redis-server` and `redis-cli` of the machine (Redis
7 or later, for the cluster's sharded pub/sub), the cluster is created with `redis-cli
--cluster create`, slots move with `redis-cli --cluster reshard`, a node dies with SIGKILL,
and certificates come from `openssl`. Every wait is for a condition, with a deadline.
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
from typing import Any
from urllib.parse import quote

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
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


@dataclass(frozen=True)
class Security:
    """A password for every node (and sentinel), and TLS when `ca` is set: a certificate
    authority of the test's own and one certificate for 127.0.0.1 that every node shows."""

    password: str | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def server_config(self, *, sentinel: bool = False) -> list[str]:
        lines = []
        if self.password:
            lines.append(f'requirepass "{self.password}"')
            if not sentinel:
                lines.append(f'masterauth "{self.password}"')
        if self.ca:
            lines += [
                f"tls-cert-file {self.cert}",
                f"tls-key-file {self.key}",
                f"tls-ca-cert-file {self.ca}",
                "tls-auth-clients no",
                "tls-replication yes",  # (a sentinel's connections to the nodes too)
                *([] if sentinel else ["tls-cluster yes"]),
            ]
        return lines

    def cli_args(self) -> list[str]:
        args = ["-a", self.password, "--no-auth-warning"] if self.password else []
        return args + (["--tls", "--cacert", str(self.ca)] if self.ca else [])

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"password": self.password}
        if self.ca:
            options |= {"ssl": True, "ssl_ca_certs": str(self.ca)}
        return options

    def userinfo(self) -> str:
        return f":{quote(self.password, safe='')}@" if self.password else ""

    def query(self) -> str:
        return f"?ssl_ca_certs={quote(str(self.ca))}" if self.ca else ""


def make_tls(directory: Path, password: str | None = None) -> Security:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl), in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key, request = directory / "redis.crt", directory / "redis.key", directory / "redis.csr"
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    steps = [
        [
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=roboscope-test-ca", "-keyout", str(ca_key), "-out", str(ca)),
        ],
        [
            *("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"),
            *("-keyout", str(key), "-out", str(request)),
        ],
        [
            *("x509", "-req", "-CAcreateserial", "-days", "2", "-in", str(request)),
            *(
                "-CA",
                str(ca),
                "-CAkey",
                str(ca_key),
                "-out",
                str(cert),
                "-extfile",
                str(extensions),
            ),
        ],
    ]
    for step in steps:
        subprocess.run([OPENSSL, *step], capture_output=True, check=True, timeout=60)
    return Security(password=password, ca=ca, cert=cert, key=key)


@dataclass
class RedisNode:
    """One `redis-server` process (a data node or a sentinel)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    security: Security
    sentinel: bool = False

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
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            **self.security.client_options(),
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def answers(self) -> bool:
        if not self.alive():
            raise TopologyError(f"redis-server on {self.port} exited")
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
    directory: Path, config: list[str], security: Security, *, sentinel: bool = False
) -> RedisNode:
    """A `redis-server` on a free loopback port with `config` (`name value` lines); retried
    on another port when a concurrent process took the one chosen."""
    directory.mkdir(parents=True, exist_ok=True)
    last = ""
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        listen = ["port 0", f"tls-port {port}"] if security.ca else [f"port {port}"]
        lines = [
            *listen,
            f"bind {HOST}",
            f"dir {directory}",
            "logfile redis.log",
            "daemonize no",
            *([] if sentinel else ['save ""', "appendonly no"]),
            *security.server_config(sentinel=sentinel),
            *config,
        ]
        conf = directory / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        args = [REDIS_SERVER, str(conf), *(["--sentinel"] if sentinel else [])]
        process = subprocess.Popen(
            args, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        node = RedisNode(port, directory, process, security, sentinel)
        try:
            wait_for(f"redis-server on {port}", node.answers, 10)
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
    security: Security

    @property
    def url(self) -> str:
        """`ROBOSCOPE_REDIS_URL` for it: every live node as a seed."""
        scheme = "rediss+cluster" if self.security.ca else "redis+cluster"
        seeds = ",".join(n.address for n in self.nodes if n.alive())
        return f"{scheme}://{self.security.userinfo()}{seeds}{self.security.query()}"

    def node(self, address: str) -> RedisNode:
        return next(n for n in self.nodes if n.address == address)

    def _any(self) -> RedisNode:
        return next(n for n in self.nodes if n.alive())

    def cli(self, node: RedisNode, *command: str) -> str:
        """A command's raw text answer, through `redis-cli`."""
        done = subprocess.run(
            [REDIS_CLI, *self.security.cli_args(), "-h", HOST, "-p", str(node.port), *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def shards(self) -> list[dict[str, Any]]:
        """`CLUSTER NODES` as a live node sees it: id, address, primary, slots."""
        rows = []
        for line in self.cli(self._any(), "CLUSTER", "NODES").strip().splitlines():
            parts = line.split()
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
                    "primary": "master" in parts[2].split(","),
                    "slots": slots,
                }
            )
        return rows

    def owner(self, slot: int) -> dict[str, Any]:
        """The primary serving `slot` now."""
        return next(r for r in self.shards() if r["primary"] and slot in r["slots"])

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
        done = subprocess.run(
            [
                REDIS_CLI,
                *self.security.cli_args(),
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
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise TopologyError(f"reshard failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def redis_cluster(
    primaries: int = 3,
    *,
    password: str | None = None,
    tls: bool = False,
    node_timeout_ms: int = 5000,
) -> Iterator[Cluster]:
    """A cluster of `primaries` primaries and one replica each, healthy, torn down after.

    `node_timeout_ms` is how long a primary may not answer before its replica takes over:
    short for the failover tests, long enough elsewhere that a loaded machine does not fail
    a primary over by itself."""
    directory = Path(tempfile.mkdtemp(prefix="roboscope-cluster-"))
    security = make_tls(directory / "tls", password) if tls else Security(password)
    cluster = Cluster([], directory, security)
    try:
        for index in range(primaries * 2):
            cluster.nodes.append(
                start_node(
                    directory / f"node{index}",
                    [
                        "cluster-enabled yes",
                        "cluster-config-file nodes.conf",
                        f"cluster-node-timeout {node_timeout_ms}",
                        f"cluster-port {_free_port()}",
                        # A replica takes over however long it was cut off (tests kill fast).
                        "cluster-replica-validity-factor 0",
                    ],
                    security,
                )
            )
        created = subprocess.run(
            [
                REDIS_CLI,
                *security.cli_args(),
                "--cluster",
                "create",
                *(n.address for n in cluster.nodes),
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

    data_nodes: list[RedisNode]
    sentinels: list[RedisNode]
    directory: Path
    security: Security
    extra: list[RedisNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        """`ROBOSCOPE_REDIS_URL` for it (the sentinels take the same password)."""
        scheme = "rediss+sentinel" if self.security.ca else "redis+sentinel"
        sentinels = ",".join(s.address for s in self.sentinels)
        password = self.security.password
        options = [f"sentinel_password={quote(password, safe='')}"] if password else []
        if self.security.ca:
            options.append(f"ssl_ca_certs={quote(str(self.security.ca))}")
        query = f"?{'&'.join(options)}" if options else ""
        return f"{scheme}://{self.security.userinfo()}{sentinels}/{SERVICE}/0{query}"

    def primary(self) -> RedisNode:
        """The data node the sentinels name as primary now."""
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            with contextlib.suppress(redis.RedisError, OSError), sentinel.client() as client:
                _, port = client.sentinel_get_master_addr_by_name(SERVICE)
                return next(n for n in self.data_nodes if n.port == int(port))
        raise TopologyError("no sentinel answers")

    def replica(self) -> RedisNode:
        primary = self.primary()
        return next(n for n in self.data_nodes if n is not primary)

    def synced(self) -> bool:
        """The replica is connected to the primary and has what it was sent."""
        with self.primary().client() as client:
            info = client.info("replication")
        replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return bool(replicas) and all(r.get("state") == "online" for r in replicas)

    def watched(self) -> bool:
        """Every sentinel knows the primary, the replica and the two other sentinels."""
        for sentinel in self.sentinels:
            with sentinel.client() as client:
                master = client.sentinel_master(SERVICE)
                if int(master["num-slaves"]) < 1 or int(master["num-other-sentinels"]) < 2:
                    return False
        return True

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data_nodes, *self.extra]:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def sentinel_set(
    *,
    password: str | None = None,
    tls: bool = False,
    down_after_ms: int = 1000,
    failover_timeout_ms: int = 4000,
) -> Iterator[SentinelSet]:
    """A primary, a replica and three sentinels (quorum 2), torn down after. With a password,
    the data nodes and the sentinels all need it (`sentinel auth-pass`, `requirepass`); with
    TLS, every connection is TLS, the sentinels' to the nodes too."""
    directory = Path(tempfile.mkdtemp(prefix="roboscope-sentinel-"))
    security = make_tls(directory / "tls", password) if tls else Security(password)
    topology = SentinelSet([], [], directory, security)
    try:
        primary = start_node(directory / "primary", [], security)
        topology.data_nodes.append(primary)
        replica = start_node(directory / "replica", [f"replicaof {HOST} {primary.port}"], security)
        topology.data_nodes.append(replica)
        auth = [f'sentinel auth-pass {SERVICE} "{password}"'] if password else []
        for index in range(3):
            topology.sentinels.append(
                start_node(
                    directory / f"sentinel{index}",
                    [
                        f"sentinel monitor {SERVICE} {HOST} {primary.port} 2",
                        f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
                        f"sentinel failover-timeout {SERVICE} {failover_timeout_ms}",
                        f"sentinel parallel-syncs {SERVICE} 1",
                        *auth,
                    ],
                    security,
                    sentinel=True,
                )
            )
        wait_for("replica synced", topology.synced, 30)
        wait_for("sentinels see everything", topology.watched, 30)
        yield topology
    finally:
        topology.stop()


def missing_tools(*, tls: bool = False) -> str | None:
    """Why the topologies cannot run here (no redis-server or redis-cli, one older than Redis
    7, or no openssl for TLS), or None."""
    tools = (REDIS_SERVER, REDIS_CLI, *((OPENSSL,) if tls else ()))
    for binary in tools:
        if not os.access(binary, os.X_OK):
            return f"{binary} is not installed"
    version = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout
    number = version.split("v=", 1)[-1].split()[0]
    if int(number.split(".")[0]) < 7:
        return f"redis-server {number} has no sharded pub/sub (Redis 7 or later is needed)"
    return None
