"""Run Alembic migrations from code: ``palisade db upgrade``, first start, and the test session."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


class MigrationsNotFound(RuntimeError):
    pass


def migrations_path() -> Path:
    path = Path(__file__).resolve().parent.parent / "migrations"
    if not (path / "env.py").exists():
        raise MigrationsNotFound(
            f"migrations folder not found at {path}; install Palisade from a checkout "
            "(pip install -e .)"
        )
    return path


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_path()))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration shipped with this code (fixed for the life of the process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
