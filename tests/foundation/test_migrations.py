"""The Alembic migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from sharing import migrate
from sharing.db import Database
from sharing.models import Base
from tests.conftest import fresh_database_url


@pytest.fixture
def empty_db(backend: str, tmp_path: Path):
    db = Database(fresh_database_url(backend, tmp_path, "migrations"))
    yield db
    db.dispose()


def _downgrade(db: Database, revision: str) -> None:
    cfg = migrate.alembic_config()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def _model_tables() -> set[str]:
    return set(Base.metadata.tables)


def test_the_migration_history_has_a_single_head() -> None:
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: merge them"
    assert migrate.head_revision() == heads[0]


def test_upgrade_head_creates_every_model_table(empty_db: Database) -> None:
    assert migrate.current_revision(empty_db.engine) is None
    assert not migrate.is_at_head(empty_db.engine)

    migrate.upgrade(empty_db.engine)

    tables = set(inspect(empty_db.engine).get_table_names())
    missing = _model_tables() - tables
    assert not missing, f"models without a table after upgrade: {sorted(missing)}"
    assert "alembic_version" in tables
    assert migrate.is_at_head(empty_db.engine)
    assert migrate.current_revision(empty_db.engine) == migrate.head_revision()


def test_the_migrations_match_the_models_exactly(empty_db: Database) -> None:
    """Catches a model change that was made without a migration (or the other way round)."""
    migrate.upgrade(empty_db.engine)
    with empty_db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], (
        "the models and the migrations disagree; run `alembic revision --autogenerate`:\n"
        + "\n".join(map(str, differences))
    )


def test_downgrade_to_base_then_upgrade_again(empty_db: Database) -> None:
    migrate.upgrade(empty_db.engine)
    _downgrade(empty_db, "base")

    remaining = set(inspect(empty_db.engine).get_table_names()) - {"alembic_version"}
    assert remaining == set(), f"downgrade left tables behind: {sorted(remaining)}"
    assert migrate.current_revision(empty_db.engine) is None

    migrate.upgrade(empty_db.engine)
    assert migrate.is_at_head(empty_db.engine)
    assert _model_tables() <= set(inspect(empty_db.engine).get_table_names())


def test_each_revision_downgrades_and_upgrades_one_step(empty_db: Database) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        migrate.upgrade(empty_db.engine, revision)
        assert migrate.current_revision(empty_db.engine) == revision
        _downgrade(empty_db, "-1")
        migrate.upgrade(empty_db.engine, revision)
        assert migrate.current_revision(empty_db.engine) == revision
    assert migrate.is_at_head(empty_db.engine)


def test_upgrading_a_database_at_head_changes_nothing(empty_db: Database) -> None:
    migrate.upgrade(empty_db.engine)
    before = sorted(inspect(empty_db.engine).get_table_names())
    migrate.upgrade(empty_db.engine)
    assert sorted(inspect(empty_db.engine).get_table_names()) == before
    assert migrate.is_at_head(empty_db.engine)


def test_0005_moves_the_hash_prefix_into_the_blind_index_and_back(empty_db: Database) -> None:
    """Stored indicators keep being found: the prefix leads the blind index after the upgrade,
    and a downgrade restores both columns byte for byte."""
    migrate.upgrade(empty_db.engine, "0004")
    old_bi = bytes(range(16))
    with empty_db.engine.begin() as connection:
        mark = "?" if connection.dialect.name == "sqlite" else "%s"
        connection.exec_driver_sql(
            "INSERT INTO indicators (id, stix_id, kind, blind_index, value_ct,"
            " consortium_key_id, hash_prefix, created_at) VALUES"
            f" (7, 'indicator--x', 'email', {mark}, {mark}, 'c1', 'ab12f', '2026-11-28 00:00:00')",
            (old_bi, b"ct"),
        )
    migrate.upgrade(empty_db.engine, "0005")
    with empty_db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT blind_index FROM indicators").scalar_one()
        columns = {c["name"] for c in inspect(connection).get_columns("indicators")}
    assert bytes(stored) == bytes.fromhex("ab12f0") + old_bi
    assert "hash_prefix" not in columns
    _downgrade(empty_db, "0004")
    with empty_db.engine.connect() as connection:
        bi, prefix = connection.exec_driver_sql(
            "SELECT blind_index, hash_prefix FROM indicators"
        ).one()
    assert (bytes(bi), prefix) == (old_bi, "ab12f")
