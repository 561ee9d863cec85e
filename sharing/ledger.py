"""The write lock every change to indicators, reports and the feed log takes, and the log itself.

Writers serialise on one lock for the few milliseconds their bundle's writes take: on SQLite the
``BEGIN IMMEDIATE`` of a write transaction already does it; on PostgreSQL a transaction-scoped
advisory lock does. Holding it, a writer numbers its feed-log rows after the last committed one
and stamps them no earlier than the last ``changed_at``, so readers paging by ``seq`` or by
``added_after`` never miss a row that commits late. Deduplication by blind index is race-free
for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharing import bulk
from sharing.models.base import utcnow
from sharing.models.feed import FeedEntry

_LOCK_KEY = 0x70616C_69  # "pali"


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


@dataclass(frozen=True)
class Change:
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
    seq = last_seq or 0
    rows = []
    for change in changes:
        seq += 1
        rows.append(
            {
                "seq": seq,
                "changed_at": now,
                "indicator_id": change.indicator_id,
                "context_id": change.context_id,
                "public": change.public,
                "group_id": change.group_id,
                "reporter_bi": change.reporter_bi,
                "reason": change.reason,
            }
        )
    bulk.insert_rows(session, FeedEntry.__table__, rows)
    return now
