"""Transaction boundaries of sharing.db: sessions and the Core ``connect`` the hot paths use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sharing.db import Database


@pytest.fixture
def store(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    with db.transaction(write=True) as session:
        session.execute(text("CREATE TABLE t (v TEXT)"))
    yield db
    db.dispose()


def _values(db: Database) -> list[str]:
    with db.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT v FROM t ORDER BY v"))]


def test_connect_commits_what_its_block_wrote(store: Database) -> None:
    with store.connect(write=True) as connection:
        connection.execute(text("INSERT INTO t VALUES ('kept')"))
    assert _values(store) == ["kept"]


def test_connect_rolls_back_when_its_block_fails(store: Database) -> None:
    with pytest.raises(RuntimeError), store.connect(write=True) as connection:
        connection.execute(text("INSERT INTO t VALUES ('lost')"))
        raise RuntimeError("mid-transaction failure")
    assert _values(store) == []


def test_a_write_on_a_locked_sqlite_store_raises_sqlalchemys_operational_error(
    store: Database, tmp_path: Path
) -> None:
    """Ingest retries on SQLAlchemy's OperationalError ("database is locked"): the BEGIN
    IMMEDIATE that sharing.db sends straight to the driver must still raise that."""
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with store.engine.connect() as connection:  # the pool's only idle connection
            connection.exec_driver_sql("PRAGMA busy_timeout=50")
        locked = pytest.raises(OperationalError, match="database is locked")
        with locked, store.connect(write=True):
            pass
        locked = pytest.raises(OperationalError, match="database is locked")
        with locked, store.transaction(write=True) as session:
            session.execute(text("INSERT INTO t VALUES ('x')"))
    finally:
        holder.rollback()
        holder.close()
    assert _values(store) == []
