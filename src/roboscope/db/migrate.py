"""Schema migrations with Alembic, configured in code so no alembic.ini has to be found."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from .engine import ensure_sqlite_directory


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "roboscope.db:migrations")
    # Passed as an attribute, not an ini option: ini values treat `%` as interpolation.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start (a no-op when current)."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
