"""Configuration, read from `ROBOSCOPE_*` environment variables by the entry point only.

Nothing reads the environment at import time: `Settings()` is built by the CLI (or a test)
and passed down, so two apps with different settings can live in one process.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROBOSCOPE_", extra="ignore")

    data_dir: Path = Field(default=Path(".roboscope"), description="Embedded database and Redis.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: a SQLite file in the data dir."
    )
    redis_url: str | None = Field(
        default=None, description="redis:// or rediss:// URL; default: an embedded Redis."
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
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    database_timeout_seconds: float = Field(default=5.0, gt=0)
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's OpenTelemetry spans, metrics and logs, sent to the providers "
        "the environment configures.",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'roboscope.db').resolve()}"
