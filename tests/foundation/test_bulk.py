"""``sharing.bulk`` runs statements on the DB-API connection: do callers still see SQLAlchemy's
exceptions, the caller's transaction and our datetime storage form, on both backends?"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from sharing import bulk
from sharing.models import AuditEntry

WHEN = datetime(2026, 11, 28, 4, 30, 0, 123456, tzinfo=UTC)


def _row(entry_id: int) -> dict[str, object]:
    return {
        "id": entry_id,
        "occurred_at": WHEN,
        "actor": "cli",
        "actor_org_id": None,
        "action": "test.bulk",
        "target": "",
        "details": "{}",
        "prev_hash": "0" * 64,
        "row_hash": f"{entry_id:064x}",
    }


def test_inserted_rows_read_back_through_the_orm_with_their_datetimes(session: Session) -> None:
    bulk.insert_rows(session, AuditEntry.__table__, [_row(900_001), _row(900_002)])
    stored = session.scalars(select(AuditEntry).where(AuditEntry.id >= 900_001)).all()
    assert [(e.id, e.occurred_at) for e in stored] == [(900_001, WHEN), (900_002, WHEN)]


def test_a_duplicate_key_is_sqlalchemys_integrity_error(session: Session) -> None:
    bulk.insert_rows(session, AuditEntry.__table__, [_row(900_003)])
    # In a SAVEPOINT: on PostgreSQL the failed statement aborts the transaction up to it.
    with pytest.raises(IntegrityError), session.begin_nested():
        bulk.insert_rows(session, AuditEntry.__table__, [_row(900_003)])


def test_a_failing_read_is_a_sqlalchemy_error_naming_the_statement(session: Session) -> None:
    with pytest.raises(DBAPIError) as caught, session.begin_nested():
        bulk.fetch_all(session, "SELECT no_such_column FROM audit_log WHERE id = ?", (1,))
    assert "no_such_column" in str(caught.value)


def test_select_in_reads_in_chunks_and_finds_every_value(session: Session) -> None:
    ids = list(range(900_100, 900_100 + bulk.IN_CHUNK + 7))
    bulk.insert_rows(session, AuditEntry.__table__, [_row(i) for i in ids])
    sql = "SELECT id FROM audit_log WHERE action = ? AND id IN ({})"
    found = bulk.select_in(session, sql, ids, before=("test.bulk",))
    assert sorted(row[0] for row in found) == ids
