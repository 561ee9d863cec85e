"""Alembic environment: the only way Palisade's schema changes.

Runs against a connection handed in by ``sharing.migrate`` (tests, CLI) or, when Alembic is run
by hand, against ``DATABASE_URL`` / the default instance database. ``render_as_batch`` makes
every ALTER work on SQLite too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sharing.config import Settings
from sharing.db import make_engine
from sharing.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them online")
run_migrations_online()
