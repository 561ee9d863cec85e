"""The write lock every change to indicators, reports and the feed log takes, and the log itself.

Writers serialise on one lock for as long as their writes take (half a second for 10,000 new
indicators): on SQLite the ``BEGIN IMMEDIATE`` of a write transaction already does it; on
PostgreSQL a transaction-scoped advisory lock does. On SQLite, bundle submitters and matches'
audit appends also queue on a file lock (:func:`queue`) before they begin, since SQLite's own
wait wakes them late. Holding the lock, a writer numbers its feed-log rows after the last
committed one and stamps them no earlier than the last ``changed_at``, so readers paging by
``seq`` or by ``added_after`` never miss a row that commits late. Deduplication by blind index
is race-free for the same reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharing import bulk
from sharing.models.base import utcnow
from sharing.models.feed import FeedEntry

if TYPE_CHECKING:
    from sharing.db import Database

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own wait only
    fcntl = None  # type: ignore[assignment]

_LOCK_KEY = 0x70616C_69  # "pali"
_COLUMNS = (
    "seq",
    "changed_at",
    "indicator_id",
    "context_id",
    "public",
    "group_id",
    "reporter_bi",
    "reason",
)


@contextmanager
def queue(db: Database, *, bundle: bool = False) -> Iterator[None]:
    """Wait for the writer ahead, then hold a place until the block ends (SQLite files only).

    A bundle holds SQLite's write lock for its whole write phase, a large one for half a second.
    SQLite makes a second writer poll for it with sleeps that grow to 100 ms, so the lock sat
    idle for up to that long after each bundle, and a match waiting to append its audit row
    lost to any submitter that retried first: with submitters queued, a match waited seconds.
    Here bundle submitters and a match's audit append queue on an exclusive ``flock`` of a file
    beside the database, which the kernel hands over the moment its holder lets go (the
    waiters race for it), and then find the write lock free. The kernel also releases it if
    its holder dies. Rarer writers (the portal, the CLI) wait in SQLite as before.

    ``bundle`` writers first pass a gate, a second lock, one at a time: when the queue is let
    go, at most one bundle races the waiting matches for it, so a match waits for a bundle or
    two, not for every bundle queued before it.
    """
    path = _lock_path(db)
    if path is None or fcntl is None:
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if bundle:
            gate = os.open(path.with_name(path.name + "-gate"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(gate, fcntl.LOCK_EX)
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            finally:
                os.close(gate)
        else:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


# Each database's queue file, worked out once: a match asks for it on every request.
_LOCK_PATHS: WeakKeyDictionary[Database, Path | None] = WeakKeyDictionary()


def _lock_path(db: Database) -> Path | None:
    try:
        return _LOCK_PATHS[db]
    except KeyError:
        path = _LOCK_PATHS[db] = _queue_file(db)
        return path


def _queue_file(db: Database) -> Path | None:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database).with_name(Path(url.database).name + ".ingest-lock")


def acquire(session: Session) -> None:
    """Take the ingest lock for the rest of the transaction (a no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))


# Two scalar subqueries, not one SELECT with two aggregates: SQLite answers a lone max() from
# the end of an index, but max(a), max(b) together make it scan the whole feed log (0.5 s a
# bundle at 5 million rows, growing with the store).
HEAD = select(
    select(func.max(FeedEntry.seq)).scalar_subquery(),
    select(func.max(FeedEntry.changed_at)).scalar_subquery(),
)


class Change(NamedTuple):
    """One feed-log row to be; a named tuple, as a bundle makes one per indicator."""

    reason: str
    public: bool
    group_id: int | None
    reporter_bi: bytes | None
    indicator_id: int | None = None
    context_id: int | None = None


def append(session: Session, changes: list[Change]) -> datetime | None:
    """Append feed-log rows (caller holds the lock); returns their ``changed_at``."""
    if not changes:
        return None
    last_seq, last_at = session.execute(HEAD).one()
    now = utcnow()
    if last_at is not None and now <= last_at:
        now = last_at + timedelta(microseconds=1)
    first = (last_seq or 0) + 1
    sqlite = session.get_bind().dialect.name == "sqlite"
    at = bulk.sqlite_datetime(now) if sqlite else now
    flags = bulk.flag_values(sqlite)
    rows = [
        (
            seq,
            at,
            c.indicator_id,
            c.context_id,
            flags[c.public],
            c.group_id,
            c.reporter_bi,
            c.reason,
        )
        for seq, c in enumerate(changes, first)
    ]
    bulk.insert_tuples(session, FeedEntry.__tablename__, _COLUMNS, rows)
    return now
