"""The SQLite WAL checkpointer that server processes run (sharing/wal_checkpoints.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from sharing import wal_checkpoints
from sharing.db import Database
from tests.conftest import require_postgres


def _write_many(db: Database, transactions: int) -> None:
    with db.transaction(write=True) as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)"))
    for _ in range(transactions):
        with db.transaction(write=True) as session:
            session.execute(text("INSERT INTO t (v) VALUES (randomblob(2000))"))


def _wait_for_a_complete_checkpoint(
    checkpointer: wal_checkpoints.Checkpointer,
) -> tuple[int | None, int, int]:
    """The thread's latest answer once it has copied a non-empty log back (or after 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        last = checkpointer.last
        if last is not None and last[1] > 0 and last[2] == last[1]:
            break
        time.sleep(0.05)
    return checkpointer.last or (None, 0, 0)


def test_a_server_process_checkpoints_the_log_in_the_background(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    checkpointer = wal_checkpoints.start(db, interval=0.05)
    assert checkpointer is not None
    try:
        _write_many(db, 200)
        busy, log_frames, checkpointed = _wait_for_a_complete_checkpoint(checkpointer)
        assert busy == 0
        assert log_frames > 0, "the writes reached the log"
        assert checkpointed == log_frames, "every frame was copied back by the thread"
    finally:
        checkpointer.stop()
        db.dispose()


def test_request_connections_checkpoint_only_at_the_backstop(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    with db.engine.connect() as connection:  # opened before, as create_app may
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    checkpointer = wal_checkpoints.start(db, interval=60)
    assert checkpointer is not None
    try:
        with db.engine.connect() as connection:
            backstop = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert backstop == wal_checkpoints.BACKSTOP_PAGES
    finally:
        checkpointer.stop()
        db.dispose()


def test_in_memory_databases_get_no_checkpointer() -> None:
    db = Database("sqlite://")
    assert wal_checkpoints.start(db) is None
    db.dispose()


def test_postgresql_gets_no_checkpointer() -> None:
    require_postgres()
    db = Database(os.environ["PALISADE_TEST_POSTGRES_URL"])
    try:
        assert wal_checkpoints.start(db) is None
    finally:
        db.dispose()


def test_the_log_file_shrinks_back_once_it_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal_checkpoints, "JOURNAL_SIZE_LIMIT", 64 << 10)
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    wal = tmp_path / "store.db-wal"
    checkpointer = wal_checkpoints.start(db, interval=0.05)
    assert checkpointer is not None
    try:
        with db.transaction(write=True) as session:  # one big transaction: ~2 MiB of log
            session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
            for _ in range(1000):
                session.execute(text("INSERT INTO t (v) VALUES (randomblob(2000))"))
        grown = wal.stat().st_size
        assert grown > 1 << 20
        _wait_for_a_complete_checkpoint(checkpointer)
        _write_many(db, 1)  # the next writer starts the log over, and the file is cut back
        assert wal.stat().st_size <= 64 << 10 < grown
    finally:
        checkpointer.stop()
        db.dispose()
