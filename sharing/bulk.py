"""Fast multi-row INSERT and IN-list lookups for the ingest hot path, below the ORM.

SQLAlchemy's executemany costs tens of microseconds per row in bind processing; at 10,000
indicators a bundle that is most of the time. Here rows go straight to the DB-API cursor's
``executemany`` with values already in the driver's representation (our UTC datetimes become
naive UTC strings on SQLite, exactly as :class:`sharing.models.base.UTCDateTime` stores them).
Only plain columns (ints, strings, bytes, bools, datetimes) are allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from sharing.models.base import UTCDateTime

IN_CHUNK = 500


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    connection = session.connection()
    dialect = connection.dialect.name
    names = ", ".join(columns)
    getter = itemgetter(*columns)
    params: list[Any] = [getter(row) for row in rows]
    if len(columns) == 1:
        params = [(value,) for value in params]
    if dialect == "sqlite":
        placeholders = ", ".join("?" for _ in columns)
        datetime_positions = [
            i for i, name in enumerate(columns) if isinstance(table.c[name].type, UTCDateTime)
        ]
        if datetime_positions:
            params = [_sqlite_datetimes(row, datetime_positions) for row in params]
    else:
        placeholders = ", ".join("%s" for _ in columns)
    # Table and column names come from our own metadata, never from input.
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})"  # noqa: S608
    connection.exec_driver_sql(sql, params)


def select_in(
    session: Session, sql: str, values: Sequence[Any], *, before: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (a SELECT whose last condition is ``IN ({})``, other parameters as
    ``?``) for ``values``, chunked.

    SQLAlchemy recompiles an expanding ``IN`` for every chunk, which costs more than the lookup
    itself at 10,000 values; here the statement text is built once per chunk size. ``before``:
    parameters that precede the IN list. ``sql`` must come from our own code, never from input.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    rows: list[tuple[Any, ...]] = []
    statements: dict[int, str] = {}
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        statement = statements.get(len(chunk))
        if statement is None:
            statement = sql.format(", ".join("?" for _ in chunk))
            # Our statements hold no literal '?': placeholders are the only ones.
            statements[len(chunk)] = statement = (
                statement if sqlite else statement.replace("?", "%s")
            )
        rows.extend(connection.exec_driver_sql(statement, (*before, *chunk)).fetchall())
    return rows


@lru_cache(maxsize=4096)
def _sqlite_datetime(value: datetime) -> str:
    """UTCDateTime's SQLite storage form; a bundle's rows share few distinct values."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_datetimes(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = _sqlite_datetime(values[i])
    return tuple(values)
