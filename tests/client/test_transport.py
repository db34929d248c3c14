"""The clients' default transport: no TLS context for an http:// server (loading the CA
bundle was most of a CLI command's start-up), and https:// verified as httpx verifies it."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from roboscope.client import AsyncClient, Client, ConnectionFailed
from roboscope.client._transport import AsyncDefaultTransport, DefaultTransport


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"answered": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def https_server(cert: Path, key: Path) -> Iterator[str]:
    """A real HTTPS server on a free port, answering every GET with a small JSON body."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_http_server_costs_no_tls_context(server_url: str) -> None:
    with Client(server_url) as api:
        assert api.health().database == "up"
        transport = api.http._transport
        assert isinstance(transport, DefaultTransport) and transport._tls is None


async def test_the_async_client_has_the_same_transport(server_url: str) -> None:
    async with AsyncClient(server_url) as api:
        assert (await api.health()).database == "up"
        transport = api.http._transport
        assert isinstance(transport, AsyncDefaultTransport) and transport._tls is None


def test_an_https_server_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate no trusted CA signed is refused; trusted as httpx lets one trust it
    (SSL_CERT_FILE), the same server answers."""
    cert, key = self_signed(tmp_path)
    with https_server(cert, key) as url:
        with Client(url) as api, pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY"):
            api.health()
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        with Client(url) as api:
            assert api.http.get("/health").json() == {"answered": True}


async def test_the_async_client_verifies_https_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    with https_server(cert, key) as url:
        async with AsyncClient(url) as api:
            with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY"):
                await api.health()
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        async with AsyncClient(url) as api:
            assert (await api.http.get("/health")).json() == {"answered": True}
