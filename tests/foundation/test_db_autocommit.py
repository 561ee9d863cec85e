"""``Database.connect(autocommit=True)`` and the per-request shared connection (PostgreSQL).

On PostgreSQL an autocommit block runs each statement as its own transaction, and within one
``shared_autocommit`` scope (one web request) every such block uses the same connection. On
SQLite both are no-ops: the block is an ordinary transaction on its own connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sharing.db import Database
from tests.conftest import fresh_database_url


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Database]:
    db = Database(fresh_database_url(backend, tmp_path, "palisade_autocommit"))
    with db.transaction(write=True) as session:
        session.execute(text("CREATE TABLE t (v VARCHAR(10) PRIMARY KEY)"))
    yield db
    db.dispose()


def test_blocks_in_one_request_scope_share_a_connection_on_postgresql(store: Database) -> None:
    with (
        store.shared_autocommit(),
        store.connect(autocommit=True) as first,
        store.connect(autocommit=True) as second,
    ):
        same = first is second
    assert same is (store.dialect == "postgresql")


def test_the_shared_connection_goes_back_to_the_pool_when_the_scope_ends(
    store: Database,
) -> None:
    with store.shared_autocommit(), store.connect(autocommit=True):
        pass
    assert store.engine.pool.checkedout() == 0


def test_an_autocommit_statement_commits_on_its_own_on_postgresql(store: Database) -> None:
    with store.connect(autocommit=True) as connection:
        connection.execute(text("INSERT INTO t VALUES ('a')"))
        with store.connect() as other:  # does another connection see the row already?
            seen = other.execute(text("SELECT count(*) FROM t")).scalar_one()
    assert seen == (1 if store.dialect == "postgresql" else 0)


def test_a_failed_statement_does_not_poison_the_shared_connection(store: Database) -> None:
    with store.shared_autocommit():
        with store.connect(autocommit=True) as connection:
            connection.execute(text("INSERT INTO t VALUES ('a')"))
        with pytest.raises(DBAPIError), store.connect(autocommit=True) as connection:
            connection.execute(text("INSERT INTO t VALUES ('a')"))  # duplicate key
        with store.connect(autocommit=True) as connection:
            count = connection.execute(text("SELECT count(*) FROM t")).scalar_one()
    assert count == 1
