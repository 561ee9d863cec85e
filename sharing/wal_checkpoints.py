"""SQLite WAL checkpoints off the request path, in a background thread of each server process.

Why: in WAL mode the commit that takes the log past ``wal_autocheckpoint`` pages (1,000 by
default) copies the log back into the database file and fsyncs it, inside that commit's request.
Every match request appends an audit row, so one request in ~200 paid ~10 ms for it, and those
requests were the whole p99 of the match API (docs/benchmarks/match.md). A server process instead
runs a thread that does a PASSIVE checkpoint every second. PASSIVE never waits for readers or
writers, writers go on appending to the log while it copies, and the sqlite3 module releases the
GIL while SQLite works, so requests do not wait for it.

Request connections of such a process keep an automatic checkpoint, but at ``BACKSTOP_PAGES``
(~400 MiB of log with 4 KiB pages), so the log stays bounded should the thread stall or fall
behind a bulk load. The backstop is that high because of bulk ingest: at millions of stored
indicators a 10,000-indicator bundle dirties ~25,000 pages (its keys land on random leaves of
the blind-index and source-id indexes), so a lower backstop made nearly every bundle copy and
fsync its own pages inside its request, which the thread would otherwise do on the other core
(over HTTP at 5M, one run each way: 8.4k new indicators/s at 10,000 pages, 10.9k/s at
100,000; docs/benchmarks/ingest.md). After a checkpoint lets the log start over,
``JOURNAL_SIZE_LIMIT`` truncates its file back. Started by the WSGI entry points (``app.py``,
``palisade serve``) next to
:func:`sharing.web.gc_tuning.freeze_startup_heap`; the CLI and the tests keep SQLite's default,
and PostgreSQL has nothing to do here. Several workers each running one is harmless: a
checkpoint that finds another in progress returns at once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from sharing.db import Database

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
BACKSTOP_PAGES = 100_000
JOURNAL_SIZE_LIMIT = 64 << 20


@dataclass
class Checkpointer:
    """A running checkpoint thread; ``last`` is SQLite's answer to the latest checkpoint:
    (busy, frames in the log, frames checkpointed)."""

    path: str
    interval: float
    runs: int = 0
    last: tuple[int, int, int] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Checkpointer:
        self._thread = threading.Thread(
            target=self._run, name="palisade-wal-checkpoints", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self.interval):
                try:
                    row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # e.g. the file went away; try again next tick
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
                    continue
                self.last = (int(row[0]), int(row[1]), int(row[2]))
                self.runs += 1
        finally:
            connection.close()


def start(db: Database, interval: float = INTERVAL_SECONDS) -> Checkpointer | None:
    """Checkpoint ``db`` in the background from now on (SQLite files only; else None)."""
    engine = db.engine
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return None

    @event.listens_for(engine, "connect")
    def _backstop(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        dbapi_connection.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")

    engine.dispose()  # connections opened while the app was built get the backstop too
    return Checkpointer(path, interval).start()
