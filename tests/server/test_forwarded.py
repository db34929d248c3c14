"""Behind a reverse proxy: the forwarded client address and scheme are believed only from the
proxies named by ROBOSCOPE_FORWARDED_ALLOW_IPS (rate limits and logs key by that address).

What the proxy forwards is seen in the `Link` of a paged list: its scheme is the one the
client used (`https` at a TLS proxy) only when the proxy is trusted.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ..servers import run_command, start_server

THROUGH_A_TLS_PROXY = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7"}


def _next_link(api: str) -> str:
    for key in ("fwd-a", "fwd-b"):
        httpx.post(f"{api}/spaces", json={"key": key, "name": key}, timeout=10).raise_for_status()
    response = httpx.get(f"{api}/spaces?limit=1", headers=THROUGH_A_TLS_PROXY, timeout=10)
    response.raise_for_status()
    return response.headers["link"]


@pytest.mark.parametrize(
    ("trusted", "scheme"),
    [
        (None, "https"),  # the default trusts a proxy on this host (127.0.0.1, ::1)
        ("10.0.0.0/8, 192.168.1.20", "http"),  # proxies elsewhere: our request is not theirs
        ("127.0.0.0/8", "https"),
        ("", "http"),  # no proxy at all: nobody may claim another address
    ],
)
def test_forwarded_headers_count_only_from_trusted_proxies(
    tmp_path: Path, trusted: str | None, scheme: str
) -> None:
    env = {} if trusted is None else {"ROBOSCOPE_FORWARDED_ALLOW_IPS": trusted}
    server = start_server(tmp_path, env=env)
    try:
        link = _next_link(server.api)
    finally:
        server.stop()
    assert link.startswith(f"<{scheme}://127.0.0.1:"), link


def test_a_malformed_proxy_address_is_refused_at_start(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_FORWARDED_ALLOW_IPS": "10.0.0.1, proxy.internal"}
    result = run_command("serve", data_dir=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: ROBOSCOPE_FORWARDED_ALLOW_IPS (10.0.0.1, proxy.internal): 'proxy.internal' is "
        "not an IP address or network; e.g. 10.0.0.5,10.1.0.0/16 or *"
    ]
