"""What `ROBOSCOPE_REDIS_URL` names: one Redis, a Sentinel set, or a Redis Cluster.

Parsed here once, without importing redis-py, so that settings can refuse a malformed URL at
start with one line and `serve` can say which kind it runs on; realtime/connection.py builds
the client from the parsed form.

    redis://[[user]:password@]host[:6379][/db]          one Redis (rediss:// for TLS)
    unix://[[user]:password@]/path/to/redis.sock[?db=N]  one Redis on a unix socket
    redis+sentinel://[[user]:password@]host[:26379][,host[:port]…]/service[/db]
    redis+cluster://[[user]:password@]host[:6379][,host[:port]…]

`rediss+sentinel://` and `rediss+cluster://` use TLS to every node (and to the sentinels). The
password of the URL is the Redis nodes'; sentinels that need their own take
`?sentinel_password=` (and `sentinel_username=`). TLS options as query parameters:
`ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs` (`required`, `optional`,
`none`), `ssl_check_hostname` (`true`/`false`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

Kind = Literal["single", "sentinel", "cluster"]

FORMS = (
    "redis://[:password@]host:6379/0, rediss://… (TLS), unix:///path/redis.sock, "
    "redis+sentinel://[:password@]host:26379,host2:26379/mymaster/0 or "
    "redis+cluster://[:password@]host:7000,host2:7001 (rediss+… for TLS)"
)

_SCHEMES: dict[str, tuple[Kind, bool]] = {
    "redis": ("single", False),
    "rediss": ("single", True),
    "unix": ("single", False),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
}
_DEFAULT_PORT = {"single": 6379, "sentinel": 26379, "cluster": 6379}
_EXAMPLE = {
    "single": "redis://redis.internal:6379/0",
    "sentinel": "redis+sentinel://host1:26379,host2:26379/mymaster/0",
    "cluster": "redis+cluster://host1:7000,host2:7001",
}

TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
_CERT_REQS = ("required", "optional", "none")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True, slots=True)
class RedisEndpoint:
    """A parsed `ROBOSCOPE_REDIS_URL`. `nodes` are the server (single), the sentinels
    (sentinel) or the seed nodes the cluster is discovered from (cluster)."""

    url: str
    kind: Kind
    tls: bool
    nodes: tuple[tuple[str, int], ...] = ()
    path: str | None = None
    service: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls_options: dict[str, str | bool] = field(default_factory=dict)
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def describe(self) -> str:
        """Which kind of Redis, in a few words for people (the URL says where)."""
        tls = " over TLS" if self.tls else ""
        if self.kind == "cluster":
            return f"Redis Cluster{tls}, {_count(len(self.nodes), 'seed node')}"
        if self.kind == "sentinel":
            return (
                f"Redis Sentinel{tls}, primary {self.service}, "
                f"{_count(len(self.nodes), 'sentinel')}"
            )
        return f"one Redis{tls}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def parse(url: str) -> RedisEndpoint:
    """The endpoint `url` names; ValueError with a one-line reason when it is malformed."""
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in _SCHEMES:
        shown = f"{scheme}://" if separator else url[:20]
        raise ValueError(f"scheme {shown} is not supported; use {FORMS}")
    kind, tls = _SCHEMES[scheme.lower()]
    parts = urlsplit(f"x://{rest}")
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if parts.fragment:
        raise ValueError("has a #fragment; remove it")
    userinfo, at, hosts = netloc.rpartition("@")
    username, password = _credentials(userinfo) if at else (None, None)
    query = _query(parts.query, kind, tls)
    if scheme.lower() == "unix":
        if hosts or not parts.path:
            raise ValueError("a unix:// URL names a socket path: unix:///run/redis/redis.sock")
        return RedisEndpoint(
            url,
            kind,
            tls,
            path=unquote(parts.path),
            db=_db(query.pop("db", "0")),
            username=username,
            password=password,
        )
    if not hosts:
        raise ValueError(f"names no host; e.g. {_EXAMPLE[kind]}")
    nodes = _nodes(hosts, _DEFAULT_PORT[kind])
    segments = [unquote(s) for s in parts.path.split("/") if s] if parts.path else []
    db = _db(query.pop("db", "0"))
    tls_options = _tls_options({name: query.pop(name) for name in TLS_OPTIONS if name in query})
    if kind == "single":
        if len(nodes) > 1:
            raise ValueError(
                "names several hosts; for Sentinel or Cluster use redis+sentinel:// or "
                "redis+cluster://"
            )
        if len(segments) > 1:
            raise ValueError("has a path beyond the database number; e.g. redis://host:6379/0")
        if segments:
            db = _db(segments[0])
        return RedisEndpoint(
            url,
            kind,
            tls,
            nodes=nodes,
            db=db,
            username=username,
            password=password,
            tls_options=tls_options,
        )
    if kind == "sentinel":
        if not segments:
            raise ValueError(
                "names no primary (the service the sentinels monitor); e.g. "
                "redis+sentinel://host1:26379,host2:26379/mymaster/0"
            )
        if len(segments) > 2:
            raise ValueError("has a path beyond /service/db; e.g. …/mymaster/0")
        if len(segments) == 2:
            db = _db(segments[1])
        return RedisEndpoint(
            url,
            kind,
            tls,
            nodes=nodes,
            service=segments[0],
            db=db,
            username=username,
            password=password,
            tls_options=tls_options,
            sentinel_username=query.pop("sentinel_username", None),
            sentinel_password=query.pop("sentinel_password", None),
        )
    if len(segments) > 1 or (segments and _db(segments[0]) != 0) or db != 0:
        raise ValueError("names a database: a Redis Cluster has only database 0")
    return RedisEndpoint(
        url, kind, tls, nodes=nodes, username=username, password=password, tls_options=tls_options
    )


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None, unquote(password) if colon else None)


def _nodes(hosts: str, default_port: int) -> tuple[tuple[str, int], ...]:
    nodes = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            raise ValueError("has an empty host in its list (two commas, or a trailing one)")
        if item.startswith("["):  # [IPv6]:port
            host, bracket, after = item[1:].partition("]")
            if not bracket or (after and not after.startswith(":")):
                raise ValueError(f"host {item!r} is not [IPv6 address]:port")
            port_text = after[1:]
        else:
            host, _, port_text = item.partition(":")
        if not host:
            raise ValueError(f"host {item!r} has no name")
        nodes.append((host, _port(port_text, item) if port_text else default_port))
    return tuple(nodes)


def _port(text: str, item: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"port of {item!r} is not a number from 1 to 65535")
    return int(text)


def _db(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"database {text!r} is not a number; e.g. /0")
    return int(text)


def _query(text: str, kind: Kind, tls: bool) -> dict[str, str]:
    allowed = ["db", *TLS_OPTIONS, *(SENTINEL_OPTIONS if kind == "sentinel" else ())]
    query: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name not in allowed:
            hint = ""
            if "timeout" in name or name in ("max_connections", "health_check_interval"):
                hint = (
                    " (timeouts and pool size: ROBOSCOPE_REDIS_TIMEOUT_SECONDS, "
                    "ROBOSCOPE_REDIS_MAX_CONNECTIONS, ROBOSCOPE_REDIS_POOL_TIMEOUT_SECONDS)"
                )
            raise ValueError(
                f"has the unsupported parameter {name}{hint}; supported: {', '.join(allowed)}"
            )
        query[name] = value
    if not tls and any(name in query for name in TLS_OPTIONS):
        raise ValueError("has TLS options but no TLS scheme; use rediss://, rediss+sentinel:// …")
    return query


def _tls_options(options: dict[str, str]) -> dict[str, str | bool]:
    checked: dict[str, str | bool] = {}
    for name, value in options.items():
        if name == "ssl_cert_reqs":
            if value.lower() not in _CERT_REQS:
                raise ValueError(f"ssl_cert_reqs must be one of {', '.join(_CERT_REQS)}")
            checked[name] = value.lower()
        elif name == "ssl_check_hostname":
            if value.lower() not in _BOOLEANS:
                raise ValueError("ssl_check_hostname must be true or false")
            checked[name] = _BOOLEANS[value.lower()]
        elif not value:
            raise ValueError(f"{name} names no file")
        else:
            checked[name] = value
    return checked
