"""Request-head limits of a real `roboscope serve`, over raw sockets: oversized or too many
headers get 431, a socket that never finishes its headers is closed, normal traffic is
untouched."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..servers import ServerProcess, running_server

LIMITS = {
    "ROBOSCOPE_HTTP_MAX_HEADER_BYTES": "4096",
    "ROBOSCOPE_HTTP_MAX_HEADERS": "20",
    "ROBOSCOPE_HTTP_HEADER_TIMEOUT_SECONDS": "1",
}
PATIENCE = 20  # seconds a test waits for the server to act, far above the 1 s limit


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("limits") / "data", env=LIMITS) as running:
        yield running


def _connect(server: ServerProcess) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=PATIENCE)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _head(*headers: str) -> bytes:
    lines = ["GET /api/v1/health HTTP/1.1", "Host: test", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_normal_request_passes(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("Connection: close", "X-Pad: " + "a" * 2000))
        assert _read_all(sock).startswith(b"HTTP/1.1 200")


def test_oversized_headers_get_431(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("X-Big: " + "a" * 8000))
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431")
    assert b'"error": "headers_too_large"' in reply


def test_oversized_headers_sent_in_pieces_get_431(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: test\r\nX-Big: ")
        reply = b""
        for _ in range(100):  # 100 x 1 KiB, never finishing the head
            try:
                sock.sendall(b"a" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.01)
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431")


def test_too_many_headers_get_431(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_head(*(f"X-H{n}: v" for n in range(30))))
        assert _read_all(sock).startswith(b"HTTP/1.1 431")


def test_a_head_that_never_ends_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: test\r\n")  # no blank line
        reply = _read_all(sock)  # returns when the server closes; PATIENCE bounds it
    assert reply.startswith(b"HTTP/1.1 408")


def test_a_silent_connection_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        assert _read_all(sock) == b""


def test_many_half_open_sockets_do_not_stop_the_server(server: ServerProcess) -> None:
    """Hundreds of sockets that send half a head: all closed, the server still answers."""
    socks = [_connect(server) for _ in range(300)]
    try:
        for sock in socks:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert httpx.get(f"{server.api}/health", timeout=PATIENCE).status_code == 200
        for sock in socks:
            assert _read_all(sock).startswith(b"HTTP/1.1 408")
    finally:
        for sock in socks:
            sock.close()


def test_keep_alive_requests_each_get_their_own_head_budget(server: ServerProcess) -> None:
    """The second request on a connection comes after the 1 s head budget has passed since
    the connection opened, and is served: each request's budget counts from its own start."""
    headers = {f"x-h{n}": "v" * 100 for n in range(15)}
    with httpx.Client(base_url=server.api, timeout=PATIENCE) as client:
        first = client.get("/health", headers=headers)
        assert first.status_code == 200
        # Time must pass here (the point of the test): past the budget, within keep-alive (5 s).
        time.sleep(1.2)
        second = client.get("/health", headers=headers)
        assert second.status_code == 200
        stream = second.extensions["network_stream"]
        assert stream is first.extensions["network_stream"], "not one connection"


def test_limits_are_read_from_settings(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_HTTP_MAX_HEADERS": "10"}
    with running_server(tmp_path / "data", env=env) as small:
        headers = {f"x-h{n}": "v" for n in range(12)}
        assert httpx.get(f"{small.api}/health", headers=headers).status_code == 431
