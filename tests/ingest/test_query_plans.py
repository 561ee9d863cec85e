"""Does every bundle's write phase find what it needs by index, not by scanning a table?

A scan costs nothing on a test-sized store and grows with the store, so it only shows as a
throughput that falls as the exchange grows (issue 4 wants it flat to 5 million). The plans
are checked here instead of timing anything: each statement must reach its rows through an
index on both backends (PostgreSQL with sequential scans disabled, so that a tiny test table
does not make a scan the cheaper plan).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sharing import ledger
from sharing.ingest.writer import EXISTING_INDICATORS_SQL, EXISTING_REPORTS_SQL


def _plan(session: Session, sql: str, params: tuple[Any, ...] = ()) -> str:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {sql.replace('?', '%s')}", params)
    else:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
    return "\n".join(str(row[-1]) for row in rows)


def _scans_a_table(plan: str) -> bool:
    """A walk over every row: SQLite's "SCAN t" (even over a covering index), PostgreSQL's
    "Seq Scan" or an index scan with no "Index Cond" to bound it."""
    lines = [line.strip(" |`-") for line in plan.splitlines()]
    if any(line.startswith("SCAN ") and line != "SCAN CONSTANT ROW" for line in lines):
        return True
    if any("Seq Scan" in line for line in lines):
        return True
    index_scans = sum(" Scan " in f" {line} " and "Index" in line for line in lines)
    bounded = sum(line.startswith("Index Cond") for line in lines)
    return index_scans > bounded


def test_the_feed_log_head_is_read_from_the_end_of_its_indexes(session: Session) -> None:
    connection = session.connection()
    sql = str(ledger.HEAD.compile(dialect=connection.dialect))
    plan = _plan(session, sql)
    assert not _scans_a_table(plan), plan


def test_dedup_finds_stored_indicators_by_their_blind_index(session: Session) -> None:
    plan = _plan(session, EXISTING_INDICATORS_SQL.format("?, ?"), (b"\x01" * 32, b"\x02" * 32))
    assert not _scans_a_table(plan), plan


def test_earlier_reports_are_found_by_member_and_source_id(session: Session) -> None:
    sql = EXISTING_REPORTS_SQL.format("?, ?")
    plan = _plan(session, sql, (b"\x03" * 32, "indicator--a", "indicator--b"))
    assert not _scans_a_table(plan), plan


def test_a_filter_on_an_unindexed_column_is_seen_as_a_scan(session: Session) -> None:
    # The detector itself: if it cannot see a scan, the tests above prove nothing.
    plan = _plan(session, "SELECT count(*) FROM feed_log WHERE reason = ?", ("x",))
    assert _scans_a_table(plan), plan
