"""The container image: the Dockerfile is checked against the code it packages, its install
steps are replayed outside Docker, and the image is built and run where a container engine
can do it (a Docker engine that answers `docker info`, or Debian's daemonless podman with the
base image at hand and a sandbox that lets it run containers); that is the one part that may
be skipped, and its skip reason says exactly what is missing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from roboscope.server.app import create_app
from roboscope.settings import Settings

from ..servers import free_port
from .commands import parsed_command

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PINNED_TAG = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$")


@dataclass
class Instruction:
    keyword: str
    argument: str

    def json_form(self) -> list[str]:
        """The exec (JSON array) form of CMD, ENTRYPOINT or HEALTHCHECK's CMD."""
        text = self.argument
        if self.keyword == "HEALTHCHECK":
            text = text[text.index("CMD") + len("CMD") :]
        value = json.loads(text)
        assert isinstance(value, list), f"{self.keyword} must use the exec form"
        return [str(item) for item in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]

    def runs(self) -> str:
        return "\n".join(i.argument for i in self.all("RUN"))


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages (lines joined at `\\`, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        argument = argument.strip()
        if keyword == "FROM":
            words = argument.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name, []))
        elif not stages and keyword == "ARG":
            key, _, default = argument.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, argument))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())[1]


def runtime_command(runtime: Stage) -> list[str]:
    return runtime.last("ENTRYPOINT").json_form() + runtime.last("CMD").json_form()


def health_url(runtime: Stage) -> str:
    command = runtime.last("HEALTHCHECK").json_form()
    (url,) = re.findall(r"https?://[^'\"]+", " ".join(command))
    return str(url)


def test_the_image_is_built_in_stages_from_a_pinned_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert [stage.name for stage in stages] == ["builder", "runtime"]
    for stage in stages:
        assert PINNED_TAG.match(stage.base), f"{stage.base}: pin an exact version"
        assert "-slim" in stage.base
    builder, runtime = stages
    assert builder.base == runtime.base  # the venv is copied: same interpreter
    copied = [i.argument for i in runtime.all("COPY")]
    assert copied == ["--from=builder /opt/roboscope /opt/roboscope"]  # no sources, no tools


def test_the_builder_installs_the_lock_with_hashes_then_the_package_alone(
    stages: list[Stage],
) -> None:
    runs = stages[0].runs()
    assert "pip install --require-hashes -r requirements.lock" in runs
    assert re.search(r"pip install --no-deps \.(\s|$)", runs)
    lock_step = runs.index("--require-hashes")
    assert lock_step < runs.index("--no-deps")
    # Every file the builder copies is in the build context (.dockerignore lets it through).
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for copy in stages[0].all("COPY"):
        *sources, _ = copy.argument.split()
        for source in sources:
            assert source in allowed, f"{source} is excluded from the build context"
            assert (ROOT / source).exists()


def test_the_server_runs_as_a_fixed_non_root_user_with_its_data_on_a_volume(
    stages: list[Stage],
) -> None:
    runtime = stages[1]
    user = runtime.last("USER").argument
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"USER {user}: a fixed, non-root uid"
    runs = runtime.runs()
    assert f"--uid {uid}" in runs
    env = " ".join(i.argument for i in runtime.all("ENV"))
    (data_dir,) = re.findall(r"ROBOSCOPE_DATA_DIR=(\S+)", env)
    assert json.loads(runtime.last("VOLUME").argument) == [data_dir]
    assert f"chown {uid}:{uid} {data_dir}" in runs
    assert runtime.last("WORKDIR").argument == data_dir


def test_the_command_is_roboscope_serve_on_the_exposed_port(stages: list[Stage]) -> None:
    runtime = stages[1]
    name, params = parsed_command(runtime_command(runtime))
    assert name == "serve"
    assert params["host"] == "0.0.0.0"
    assert runtime.last("EXPOSE").argument == str(params["port"])
    assert health_url(runtime).startswith(f"http://127.0.0.1:{params['port']}/")


def test_the_health_check_asks_an_endpoint_the_app_serves(
    stages: list[Stage], tmp_path: Path
) -> None:
    runtime = stages[1]
    command = runtime.last("HEALTHCHECK").json_form()
    assert command[:2] == ["python", "-c"]  # slim images have no curl
    assert "urllib.request" in command[2]
    path = "/" + health_url(runtime).split("/", 3)[3]
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    assert "get" in document["paths"].get(path, {}), f"the HEALTHCHECK asks {path}: not an API"


def test_the_dockerfile_install_steps_work_outside_docker(
    stages: list[Stage], tmp_path: Path
) -> None:
    """The builder's steps, replayed in a fresh venv: the lock alone (hash-checked) is every
    dependency, and the built wheel (not the source tree) carries everything the server
    needs at run time (Lua scripts, migrations, ...). Then the image's own command serves and
    its HEALTHCHECK command passes. uv stands in for pip only for speed: same lock, same
    hashes, the wheel installed without dependencies."""
    uv = Path(sys.executable).parent / "uv"
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    steps = [
        [str(uv), "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
        [str(uv), "pip", "install", "--quiet", "--python", str(python), "--require-hashes",
         "-r", str(ROOT / "requirements.lock")],
    ]  # fmt: skip
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("roboscope-*.whl")
    install = [str(uv), "pip", "install", "--quiet", "--python", str(python), "--no-deps"]
    subprocess.run([*install, str(wheel)], capture_output=True, timeout=300, check=True)
    bin_dir = venv / "bin"
    version = subprocess.run(
        [str(bin_dir / "roboscope"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("roboscope ")

    runtime = stages[1]
    port = free_port()
    command = [
        str(bin_dir / "roboscope") if i == 0 else (str(port) if arg == "8080" else arg)
        for i, arg in enumerate(runtime_command(runtime))
    ]
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "ROBOSCOPE_DATA_DIR": str(tmp_path / "data"),
        "HOME": str(tmp_path),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:  # until it answers at all
            assert server.poll() is None, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        check = runtime.last("HEALTHCHECK").json_form()
        check = [str(bin_dir / check[0]), *check[1:]]
        check[-1] = check[-1].replace(":8080/", f":{port}/")
        checked = subprocess.run(check, env=env, capture_output=True, timeout=30, check=False)
        assert checked.returncode == 0, f"the HEALTHCHECK fails: {checked.stderr.decode()}"
        # The database was migrated from the wheel's migrations, the Lua scripts load.
        health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).json()
        assert health["database"] == "up" and health["redis"] == "up", health
        # The web console's page and every one of its files come with the wheel.
        assert httpx.get(f"http://127.0.0.1:{port}/console", timeout=10).status_code == 200
        for asset in sorted((ROOT / "src" / "roboscope" / "console" / "static").iterdir()):
            url = f"http://127.0.0.1:{port}/console/static/{asset.name}"
            assert httpx.get(url, timeout=10).status_code == 200, asset.name
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()


def _container_engine() -> tuple[str | None, str]:
    """The command that builds and runs the image here (a Docker engine that answers, else
    Debian's daemonless podman), or None and exactly why nothing can."""
    reasons = []
    if shutil.which("docker") is None:
        reasons.append("no docker command")
    else:
        info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=60)
        if info.returncode == 0:
            return "docker", ""
        reasons.append(f"`docker info` fails: {_last_line(info)}")
    if shutil.which("podman") is None:
        reasons.append("no podman command (Debian: `apt-get install podman`)")
        return None, "; ".join(reasons)
    # podman needs no daemon, but a sandbox that lets it start a container (tried on the
    # host's own root, which needs no image) and the base image (from a registry, or stored).
    probe = _run(
        ["podman", "run", "--rm", "--network", "none", "--rootfs", "/", "true"], timeout=120
    )
    podman = []
    if probe.returncode != 0:
        podman.append(f"podman cannot run a container here: {_last_line(probe)}")
    base = parse_dockerfile(DOCKERFILE.read_text())[1][0].base
    if _run(["podman", "image", "exists", base], timeout=60).returncode != 0:
        pulled = _run(["podman", "pull", "--quiet", base], timeout=600)
        if pulled.returncode != 0:
            podman.append(f"podman cannot pull the base image {base}: {_last_line(pulled)}")
    if podman:
        return None, "; ".join(reasons + podman)
    return "podman", ""


def _run(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit {result.returncode}, no output"


def _health(engine: str, name: str) -> str:
    """The container's health status. podman runs no health checks by itself without
    systemd, so with podman the check is run here (it records the status the same way)."""
    if engine == "podman":
        _run(["podman", "healthcheck", "run", name], timeout=60)
    return subprocess.run(
        [engine, "inspect", "--format", "{{.State.Health.Status}}", name],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_image_builds_runs_as_its_user_and_becomes_healthy(tmp_path: Path) -> None:
    engine, reason = _container_engine()
    if engine is None:
        pytest.skip(f"the image cannot be built and run here: {reason}")
    tag = f"roboscope-test:{os.getpid()}"
    name = f"roboscope-test-{os.getpid()}"
    subprocess.run([engine, "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    try:
        subprocess.run(
            [engine, "run", "-d", "--name", name, "-p", "127.0.0.1::8080", tag],
            check=True,
            capture_output=True,
            timeout=120,
        )
        deadline = time.monotonic() + 180
        status = ""
        while time.monotonic() < deadline:
            status = _health(engine, name)
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(2)
        logs = subprocess.run([engine, "logs", name], capture_output=True, text=True).stdout
        assert status == "healthy", logs
        user = subprocess.run(
            [engine, "exec", name, "id", "-u"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert user == "10001"
        stop = subprocess.run([engine, "stop", "-t", "20", name], capture_output=True)
        assert stop.returncode == 0
        code = subprocess.run(
            [engine, "inspect", "--format", "{{.State.ExitCode}}", name],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert code == "0", shlex.join([engine, "logs", name])
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True, check=False)
        subprocess.run([engine, "rmi", "-f", tag], capture_output=True, check=False)
