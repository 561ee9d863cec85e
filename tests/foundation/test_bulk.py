"""``sharing.bulk`` runs statements on the DB-API connection: do callers still see SQLAlchemy's
exceptions, the caller's transaction and our datetime storage form, on both backends?"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
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


def _tuple(entry_id: int, when: object) -> tuple[object, ...]:
    row = _row(entry_id)
    row["occurred_at"] = when
    return tuple(row.values())


@pytest.mark.parametrize("count", [1, 2 * bulk._ROWS_PER_STATEMENT + 37])
def test_tuples_go_in_whole_even_past_a_multi_row_statements_end(
    session: Session, count: int
) -> None:
    sqlite = session.get_bind().dialect.name == "sqlite"
    when = bulk.sqlite_datetime(WHEN) if sqlite else WHEN
    ids = list(range(900_200, 900_200 + count))
    bulk.insert_tuples(session, "audit_log", list(_row(0)), [_tuple(i, when) for i in ids])
    stored = session.scalars(select(AuditEntry).where(AuditEntry.id >= 900_200)).all()
    assert [(e.id, e.occurred_at, e.row_hash) for e in stored] == [
        (i, WHEN, f"{i:064x}") for i in ids
    ]


def test_a_duplicate_inside_a_multi_row_insert_is_an_integrity_error(session: Session) -> None:
    sqlite = session.get_bind().dialect.name == "sqlite"
    when = bulk.sqlite_datetime(WHEN) if sqlite else WHEN
    rows = [_tuple(900_500 + i, when) for i in range(3 * bulk._ROWS_PER_STATEMENT)]
    rows[150] = rows[20]
    with pytest.raises(IntegrityError), session.begin_nested():
        bulk.insert_tuples(session, "audit_log", list(_row(0)), rows)
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.id >= 900_500)) is None


def test_a_column_null_in_every_row_and_a_column_null_in_some_both_read_back_exactly(
    session: Session,
) -> None:
    # On SQLite a column that is None in every row is bound once per statement (a shared
    # parameter), not row by row: the stored rows must not tell the difference.
    sqlite = session.get_bind().dialect.name == "sqlite"
    when = bulk.sqlite_datetime(WHEN) if sqlite else WHEN
    count = 2 * bulk._ROWS_PER_STATEMENT + 3
    all_null = list(range(900_700, 900_700 + count))  # actor_org_id: None in every row
    some_null = list(range(901_700, 901_700 + count))  # ... and 42 in one of them
    rows = [_tuple(i, when) for i in some_null]
    rows[7] = (*rows[7][:3], 42, *rows[7][4:])
    columns = list(_row(0))
    bulk.insert_tuples(session, "audit_log", columns, [_tuple(i, when) for i in all_null])
    bulk.insert_tuples(session, "audit_log", columns, rows)
    stored = session.execute(
        select(AuditEntry.id, AuditEntry.actor_org_id, AuditEntry.occurred_at, AuditEntry.action)
        .where(AuditEntry.id >= 900_700)
        .order_by(AuditEntry.id)
    ).all()
    expected = [(i, None, WHEN, "test.bulk") for i in all_null]
    expected += [(i, 42 if n == 7 else None, WHEN, "test.bulk") for n, i in enumerate(some_null)]
    assert [tuple(row) for row in stored] == expected


def test_only_the_same_object_in_every_row_counts_as_shared() -> None:
    clock, other = "2026-11-28 10:00:00.000000", "2026-11-28 10:00:00.00000"
    equal_copy = other + "0"  # equal to clock, but another object
    assert bulk._shared_throughout([(None, 1, clock), (None, 2, clock)]) == (0, 2)
    assert bulk._shared_throughout([(None, 1, clock), (3, 1, equal_copy)]) == (1,)


@pytest.mark.parametrize("count", [2 * bulk._ROWS_PER_STATEMENT + 3, 5 * bulk._ROWS_PER_STATEMENT])
def test_shared_and_varying_columns_read_back_row_by_row_with_their_types(
    session: Session, count: int
) -> None:
    # Shared columns are bound once per statement; the rest row by row. Values that are
    # equal but of another type (1 and 1.0) must not be taken for one another.
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip(
            "statements with shared parameters are SQLite's path; a PostgreSQL column has one type"
        )
    session.execute(text("CREATE TEMPORARY TABLE mixed (a, b, c, d, e)"))
    blob = bytearray(b"pseudonym")
    rows = [(i, "same", blob, None, 1 if i % 7 else 1.0) for i in range(count)]
    rows[5] = (5, "same", blob, 42, 1)
    try:
        bulk.insert_tuples(session, "mixed", ["a", "b", "c", "d", "e"], rows)
        stored = session.execute(
            text("SELECT a, b, c, d, e, typeof(e) FROM mixed ORDER BY rowid")
        ).all()
    finally:
        session.execute(text("DROP TABLE mixed"))
    expected = [
        (a, b, bytes(c), d, e, "integer" if type(e) is int else "real") for a, b, c, d, e in rows
    ]
    assert [tuple(row) for row in stored] == expected


@pytest.mark.parametrize("count", [3, 2 * bulk._ROWS_PER_STATEMENT + 3])
def test_rows_of_nothing_but_nulls_go_in_as_nulls(session: Session, count: int) -> None:
    # Every column shared: the multi-row path binds row by row then, and inserts every row.
    session.execute(text("CREATE TEMPORARY TABLE nothing_but (a INTEGER, b TEXT)"))
    try:
        bulk.insert_tuples(session, "nothing_but", ["a", "b"], [(None, None)] * count)
        stored = session.execute(text("SELECT a, b FROM nothing_but")).all()
    finally:
        session.execute(text("DROP TABLE nothing_but"))
    assert [tuple(row) for row in stored] == [(None, None)] * count
