"""Configuration, read from `ROBOSCOPE_*` environment variables by the entry point only.

Nothing reads the environment at import time: `Settings()` is built by the CLI (or a test)
and passed down, so two apps with different settings can live in one process.

Mistakes are refused here, when `Settings()` is built, so `serve` can name each one in a line
at start instead of failing on the first request: `problems()` turns pydantic's error into
those lines, `unknown_variables()` finds misspelt names.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from . import redis_endpoints
from .rate_budgets import BY_NAME, Budget

ENV_PREFIX = "ROBOSCOPE_"

# ROBOSCOPE_* names read by something other than the server: the client commands, and
# (by prefix) the tests and benchmarks.
OTHER_VARIABLES = ("ROBOSCOPE_URL", "ROBOSCOPE_TOKEN")
OTHER_PREFIXES = ("ROBOSCOPE_TEST_", "ROBOSCOPE_BENCH_")

# The variables Kubernetes gives every pod for a Service named `roboscope` (service links):
# ROBOSCOPE_SERVICE_HOST, ROBOSCOPE_SERVICE_PORT[_<name>], ROBOSCOPE_PORT[_<n>_TCP[_ADDR|...]].
_SERVICE_LINK = re.compile(
    r"ROBOSCOPE_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)

# Accepted database URL schemes → the async driver each one means.
_DATABASE_SCHEMES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
DATABASE_FORMS = "postgresql://user:pass@host:5432/db (asyncpg) or sqlite:///path/to/file.db"


# Query parameters of a PostgreSQL URL that mean something to asyncpg (each is passed to its
# `connect()`; anything else would fail there, on every connection).
_POSTGRES_QUERY = (
    "ssl",
    "host",
    "target_session_attrs",
    "passfile",
    "direct_tls",
    "krbsrvname",
    "gsslib",
    "prepared_statement_cache_size",
)


def _postgres_query(url: URL) -> URL:
    """libpq's `sslmode` (what managed databases hand out) is asyncpg's `ssl`, same values;
    other unknown parameters are refused here rather than on every connection."""
    query = dict(url.query)
    if "sslmode" in query:
        if "ssl" in query:
            raise ValueError("has both sslmode and ssl; keep one")
        query["ssl"] = query.pop("sslmode")
    unknown = sorted(set(query) - set(_POSTGRES_QUERY))
    if unknown:
        hint = ""
        if {"timeout", "command_timeout", "connect_timeout"} & set(unknown):
            hint = " (timeouts: ROBOSCOPE_DATABASE_TIMEOUT_SECONDS)"
        raise ValueError(
            f"has unsupported parameters {', '.join(unknown)}{hint}; "
            f"supported: sslmode, {', '.join(_POSTGRES_QUERY)}"
        )
    return url.set(query=query)


def _rate_field(budget: Budget) -> Any:
    """`ROBOSCOPE_RATE_LIMIT_<BUDGET>_PER_SECOND`, as rate_budgets.py describes it."""
    spec = BY_NAME[budget]
    return Field(default=spec.per_second, ge=0, description=spec.per_second_help)


def _burst_field(budget: Budget) -> Any:
    """`ROBOSCOPE_RATE_LIMIT_<BUDGET>_BURST`, as rate_budgets.py describes it."""
    spec = BY_NAME[budget]
    return Field(default=spec.burst, ge=1, description=spec.burst_help)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    auth: Literal["off", "required"] = Field(
        default="off",
        description="`required`: every API request but health and docs needs an API token "
        "(`Authorization: Bearer …`, see docs/auth.md); `off`: open access (the shipping iOS "
        "app sends no credentials).",
    )
    auth_recheck_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How often each process asks the database whether a token was revoked, "
        "in case the broadcast of a revocation was lost (the bound on a lost one); 0: no "
        "token cache, every request reads its token from the database.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the live stream's query tokens (at least 32 characters); default: "
        "a key made once in the data dir. Give every host of a deployment the same one.",
    )
    data_dir: Path = Field(default=Path(".roboscope"), description="Embedded database and Redis.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: a SQLite file in the data dir."
    )
    redis_url: str | None = Field(
        default=None,
        description="One Redis (redis://, rediss://, unix://), a Sentinel set "
        "(redis+sentinel://host:26379,host2:26379/mymaster/0) or a Redis Cluster "
        "(redis+cluster://host:7000,host2:7001); rediss+… for TLS; default: an embedded Redis.",
    )
    redis_max_connections: int = Field(
        default=100, ge=1, description="Redis connections per process; requests wait for one."
    )
    redis_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait for a free Redis connection before a 503."
    )
    redis_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Redis connect and command timeout before a 503."
    )
    presence_max_devices_per_session: int = Field(
        default=1000, ge=1, description="A heartbeat of one more device gets 409 presence_full."
    )
    presence_ttl_seconds: float = Field(default=30.0, gt=0, description="Presence lifetime.")
    lock_default_ttl_seconds: int = Field(default=30, ge=1, description="When none is sent.")
    lock_max_ttl_seconds: int = Field(default=3600, ge=1, description="Longest lock TTL.")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Larger request bodies get 413."
    )
    max_bulk_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Larger `POST /markers/bulk` bodies get 413 (10,000 markers with every "
        "field take about 10 MB).",
    )
    rate_limits: bool = Field(
        default=True, description="Per-caller request budgets (the three below); false: none."
    )
    # The budgets are described in rate_budgets.py (defaults and help from there).
    rate_limit_heartbeats_per_second: float = _rate_field("heartbeats")
    rate_limit_heartbeats_burst: int = _burst_field("heartbeats")
    rate_limit_locks_per_second: float = _rate_field("locks")
    rate_limit_locks_burst: int = _burst_field("locks")
    rate_limit_writes_per_second: float = _rate_field("writes")
    rate_limit_writes_burst: int = _burst_field("writes")
    live_max_streams: int = Field(
        default=10_000,
        ge=1,
        description="Live streams one process serves; past it 503 stream_capacity.",
    )
    live_max_streams_per_caller: int = Field(
        default=500,
        ge=1,
        description="Live streams one process serves to one caller; past it 429 too_many_streams.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser (comma-separated, "
        "exact, e.g. https://console.example.com); empty: none (CORS off).",
    )
    database_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=25,
        description="Connect, pool wait and statement budget: a database that stops answering "
        "gives 503 after about this long (kept below the clients' 30 s).",
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Larger request heads get 431."
    )
    http_max_headers: int = Field(default=100, ge=8, description="More header fields get 431.")
    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A client must finish sending its headers within this."
    )
    http_keep_alive_seconds: int = Field(
        default=5, ge=1, description="An idle keep-alive connection is closed after this."
    )
    http_max_connections: int | None = Field(
        default=None, ge=1, description="Connections and requests past this get 503."
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed "
        "(comma-separated addresses or CIDR networks, `*` for any, empty for none): the client "
        "address of a request through them is the one they forward.",
    )
    max_meta_bytes: int = Field(
        default=64 * 1024,
        ge=2,
        description="Largest `meta`/`custom_props` object, as compact JSON; larger get 422.",
    )
    max_list_items: int = Field(
        default=10_000,
        ge=1,
        description="Largest marker list answered whole without `limit` (all markers, or one "
        "session's), and the largest `limit`.",
    )
    idempotency_retention_hours: float = Field(
        default=24.0, gt=0, description="How long an `Idempotency-Key` replays its answer."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="`json`: one JSON object per line; `text`: readable lines; `auto`: text "
        "when stderr is a terminal, JSON otherwise.",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info",
        description="The least severe records logged; `info` includes one line per request.",
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's OpenTelemetry spans, metrics and logs, sent to the providers "
        "the environment configures.",
    )
    changes_retention_days: float = Field(
        default=7.0, gt=0, description="Change log records older than this are removed."
    )
    changes_retention_count: int = Field(
        default=1_000_000, ge=1, description="At most this many change log records are kept."
    )
    live_queue_size: int = Field(
        default=500, ge=1, description="Events a live stream may fall behind before it is dropped."
    )
    live_ping_seconds: float = Field(
        default=15.0, gt=0, description="Comment heartbeats on idle live streams."
    )
    live_poll_seconds: float = Field(
        default=2.0, gt=0, description="Change log poll that covers lost wake-ups."
    )
    live_send_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A stream whose client accepts nothing this long ends."
    )

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str | None) -> str | None:
        """`postgresql://` means asyncpg, `sqlite:///` means aiosqlite; nothing else runs."""
        if value is None or not value.strip():
            return None
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError(f"is not a URL; use {DATABASE_FORMS}") from None
        driver = _DATABASE_SCHEMES.get(url.drivername)
        if driver is None:
            raise ValueError(f"scheme {url.drivername}:// is not supported; use {DATABASE_FORMS}")
        if driver.startswith("postgresql") and not url.database:
            raise ValueError("names no database; e.g. postgresql://user:pass@host:5432/roboscope")
        if driver.startswith("postgresql"):
            url = _postgres_query(url)
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        """Exact origins only: `*` would let any web page a user opens write to the API."""
        checked = []
        for origin in value:
            if origin == "*":
                raise ValueError("`*` is not accepted: list the exact origins allowed")
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path
                or parts.query
                or parts.fragment
                or "@" in parts.netloc
            ):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port], e.g. "
                    "https://console.example.com (no path, no trailing slash)"
                )
            checked.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return checked

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 32:
            raise ValueError(
                "is shorter than 32 characters; make one with "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        """Every form roboscope/redis_endpoints.py knows; a malformed one is refused here."""
        if value is None or not value.strip():
            return None
        redis_endpoints.parse(value)
        return value.strip()

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_forwarded_allow_ips(cls, value: str) -> str:
        """uvicorn takes a malformed entry as a literal that never matches, silently: refuse
        it here instead, and write networks as uvicorn compares them."""
        items = [item.strip() for item in value.split(",") if item.strip()]
        if items == ["*"]:
            return "*"
        normalized = []
        for item in items:
            try:
                if "/" in item:
                    normalized.append(str(ipaddress.ip_network(item, strict=False)))
                else:
                    normalized.append(str(ipaddress.ip_address(item)))
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network; e.g. 10.0.0.5,10.1.0.0/16 or *"
                ) from None
        return ",".join(normalized)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Checks of two settings together, one line each (every one reported at once)."""
        issues = []
        if self.lock_default_ttl_seconds > self.lock_max_ttl_seconds:
            issues.append(
                f"{ENV_PREFIX}LOCK_DEFAULT_TTL_SECONDS ({self.lock_default_ttl_seconds}) is "
                f"above {ENV_PREFIX}LOCK_MAX_TTL_SECONDS ({self.lock_max_ttl_seconds})"
            )
        if self.max_bulk_body_bytes < self.max_body_bytes:
            issues.append(
                f"{ENV_PREFIX}MAX_BULK_BODY_BYTES ({self.max_bulk_body_bytes}) is below "
                f"{ENV_PREFIX}MAX_BODY_BYTES ({self.max_body_bytes})"
            )
        if issues:
            raise ValueError("\n".join(issues))
        return self

    def rate(self, budget: Budget) -> tuple[float, int]:
        """The budget's `(per second, burst)` as configured (rate_budgets.py names them)."""
        setting = BY_NAME[budget].setting
        return getattr(self, f"{setting}_per_second"), getattr(self, f"{setting}_burst")

    @property
    def redis_endpoint(self) -> redis_endpoints.RedisEndpoint | None:
        """What ROBOSCOPE_REDIS_URL names; None for the embedded Redis."""
        return None if self.redis_url is None else redis_endpoints.parse(self.redis_url)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'roboscope.db').resolve()}"


_SECRETS = frozenset({"secret_key"})
"""Settings whose value is never repeated in a message."""


def variable_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def problems(error: ValidationError) -> list[str]:
    """One line per problem, naming the variable, with secrets masked."""
    lines = []
    for problem in error.errors(include_url=False):
        message = str(problem.get("msg", "is invalid")).removeprefix("Value error, ")
        location = problem.get("loc") or ()
        if not location:  # cross-field checks, a line each, name their variables themselves
            lines.extend(message.splitlines())
            continue
        field = str(location[0])
        shown = mask_url(str(problem.get("input"))) if field.endswith("_url") else None
        value = problem.get("input") if shown is None else shown
        if field in _SECRETS:
            value = "***"
        lines.append(f"{variable_name(field)} ({value}): {message}")
    return lines


def every_problem(error: ValidationError) -> list[str]:
    """`problems(error)`, plus the checks of two settings that the invalid ones hid (pydantic
    makes them only when every setting is valid): they are made with the invalid settings
    at their defaults, and kept unless they name one of those. One pass shows every mistake."""
    lines = problems(error)
    invalid = {str(problem["loc"][0]) for problem in error.errors() if problem.get("loc")}
    if not invalid:
        return lines
    defaults = {
        name: Settings.model_fields[name].get_default(call_default_factory=True)
        for name in invalid
        if name in Settings.model_fields
    }
    try:
        Settings(**defaults)
    except ValidationError as hidden:
        names = [variable_name(name) for name in invalid]
        lines += [
            line
            for line in problems(hidden)
            if not any(re.search(rf"\b{name}\b", line) for name in names)
        ]
    return lines


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A problem for each `ROBOSCOPE_*` variable nothing reads, naming the closest known one.

    The server refuses to start on one: a misspelt `ROBOSCOPE_AUHT=required` would
    otherwise serve with open access. Kubernetes' service-link variables are not ours and
    pass."""
    known = [variable_name(name) for name in Settings.model_fields] + list(OTHER_VARIABLES)
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if (
            not upper.startswith(ENV_PREFIX)
            or upper in known
            or upper.startswith(OTHER_PREFIXES)
            or _SERVICE_LINK.fullmatch(upper)
        ):
            continue
        hint = f"; did you mean {ENV_PREFIX}{close}?" if (close := _closest(upper)) else ""
        lines.append(f"{name} is not a Roboscope setting{hint} (unset it, or spell it right)")
    return lines


def _closest(name: str) -> str | None:
    """The known name (without the prefix) closest to `name`'s, if any is close: compared
    without the shared prefix, which would make every name look alike."""
    known = [name.upper() for name in Settings.model_fields]
    known += [variable.removeprefix(ENV_PREFIX) for variable in OTHER_VARIABLES]
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), known, n=1, cutoff=0.6)
    return close[0] if close else None


def mask_url(url: str) -> str:
    """The URL with its password replaced by `***` (database and Redis URLs alike)."""
    if "+sentinel://" in url or "+cluster://" in url:  # several hosts: not a SQLAlchemy URL
        return _mask_userinfo(url)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("@", 1)[-1] if "@" in url else url


def database_fingerprint(settings: Settings) -> str:
    """A short name for the database the settings point at (its URL, password left out):
    server processes compare these to find the others of their deployment."""
    return hashlib.sha256(mask_url(settings.resolved_database_url).encode()).hexdigest()[:16]


def _mask_userinfo(url: str) -> str:
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    masked = f"{scheme}://{userinfo}{at}{hosts}{slash}{path}"
    return re.sub(r"(sentinel_password=)[^&]*", r"\1***", masked)
