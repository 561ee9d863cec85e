"""Raw DB-API statements for the hot paths: multi-row INSERT, IN-list lookups, single reads.

SQLAlchemy's execution context costs tens of microseconds per statement and per row of bind
processing: at 10,000 indicators a bundle that was most of the time, and a one-item match runs
a handful of statements whose own cost is ~3 µs each on SQLite against ~60 µs through Core.
Here statements go straight to the DB-API connection under the caller's SQLAlchemy connection
(same transaction), with values already in the driver's representation (our UTC datetimes become
naive UTC strings on SQLite, exactly as :class:`sharing.models.base.UTCDateTime` stores them).
Driver errors are re-raised as SQLAlchemy's (``OperationalError``, ``IntegrityError``...), so
callers handle them as they would any other. Only plain columns (ints, strings, bytes, bools,
datetimes) are allowed, and every statement comes from our own code, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, repeat
from operator import is_, itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sharing.db import core
from sharing.models.base import UTCDateTime

IN_CHUNK = 500
# Rows per multi-row INSERT on SQLite: 100 rows of 16 columns stay far below its limit of
# 32,766 bound parameters.
_ROWS_PER_STATEMENT = 100


def insert_rows(
    executor: Session | Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    columns = list(rows[0])
    connection = core(executor)
    sqlite = connection.dialect.name == "sqlite"
    names = ", ".join(columns)
    getter = itemgetter(*columns)
    params: list[Any] = [getter(row) for row in rows]
    if len(columns) == 1:
        params = [(value,) for value in params]
    if sqlite:
        datetime_positions = [
            i for i, name in enumerate(columns) if isinstance(table.c[name].type, UTCDateTime)
        ]
        if datetime_positions:
            params = [_sqlite_datetimes(row, datetime_positions) for row in params]
    placeholders = ", ".join("?" for _ in columns)
    # Table and column names come from our own metadata, never from input.
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})"  # noqa: S608
    _run(connection, sql, params, many=True)


def insert_tuples(
    executor: Session | Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert rows given as tuples in ``columns`` order, already in the driver's form
    (datetimes as :func:`sqlite_datetime` text on SQLite): the bulk path's least Python work.

    On SQLite, rows go in as multi-row ``VALUES`` lists: one statement step per
    ``_ROWS_PER_STATEMENT`` rows instead of one per row, ~15 % less time for the same rows.
    A column holding the same object in every row (the bundle's clock, the member's pseudonym,
    None...) is bound once per statement, as a numbered parameter all its rows name
    (:func:`_shared_throughout`). ``table`` and ``columns`` come from our own code, never from
    input.
    """
    if not rows:
        return
    connection = core(executor)
    width = len(columns)
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
    per = _ROWS_PER_STATEMENT
    if connection.dialect.name != "sqlite" or len(rows) < 2 * per:
        _run(connection, head + _one_row(width), rows, many=True)
        return
    shared = _shared_throughout(rows)
    if len(shared) == width:
        shared = ()  # every row must bind something for the statement arithmetic below
    varying = [i for i in range(width) if i not in shared]
    whole = len(rows) - len(rows) % per
    # chain() and map() flatten in C, ~3 ms for 10,000 rows of 16 columns.
    if len(varying) == 1:
        flat = list(map(itemgetter(varying[0]), rows[:whole]))
    else:
        flat = list(chain.from_iterable(map(itemgetter(*varying), rows[:whole])))
    constants = [rows[0][i] for i in shared]
    step = per * len(varying)
    _run(
        connection,
        head + _numbered_rows(width, shared, per),
        [constants + flat[start : start + step] for start in range(0, len(flat), step)],
        many=True,
    )
    if whole < len(rows):
        _run(connection, head + _one_row(width), rows[whole:], many=True)


def _shared_throughout(rows: Sequence[Sequence[Any]]) -> tuple[int, ...]:
    """Positions holding the same object in every row. The sqlite3 module costs ~0.15 µs a
    bound value, and None, bool and bytes ~0.5 µs more (an adapter lookup): binding such a
    column once per 100-row statement saves ~2-5 ms a column at 10,000 rows, and finding
    it costs ~0.3 ms (the scan runs in C; identity, not equality, so that 1, 1.0 and True
    are never taken for one another)."""
    first = rows[0]
    return tuple(
        i for i, value in enumerate(first) if all(map(is_, map(itemgetter(i), rows), repeat(value)))
    )


@lru_cache(maxsize=64)
def _one_row(width: int) -> str:
    return "(" + ", ".join("?" for _ in range(width)) + ")"


@lru_cache(maxsize=64)
def _numbered_rows(width: int, shared: tuple[int, ...], rows: int) -> str:
    """``VALUES`` lists for ``rows`` rows: shared positions name ?1..?k, the others take the
    following numbers row by row (the order :func:`insert_tuples` lays out the parameters)."""
    numbers = {position: n for n, position in enumerate(shared, 1)}
    varying = [i for i in range(width) if i not in numbers]
    following = len(shared) + 1
    lists = []
    for row in range(rows):
        own = {i: following + row * len(varying) + k for k, i in enumerate(varying)}
        lists.append("(" + ", ".join(f"?{numbers.get(i) or own[i]}" for i in range(width)) + ")")
    return ", ".join(lists)


def fetch_all(
    executor: Session | Connection, sql: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Every row of one read (``?`` placeholders, on either backend)."""
    return _run(core(executor), sql, params)


def select_in(
    executor: Session | Connection,
    sql: str,
    values: Sequence[Any],
    *,
    before: tuple[Any, ...] = (),
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (a SELECT whose last condition is ``IN ({})``, other parameters as
    ``?``) for ``values``, chunked.

    SQLAlchemy recompiles an expanding ``IN`` for every chunk, which costs more than the lookup
    itself at 10,000 values; here the statement text is built once per chunk size. ``before``:
    parameters that precede the IN list. ``sql`` must come from our own code, never from input.
    """
    connection = core(executor)
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        found.extend(_run(connection, _in_list(sql, len(chunk)), (*before, *chunk)))
    return found


@lru_cache(maxsize=1024)
def _in_list(sql: str, size: int) -> str:
    return sql.format(", ".join("?" for _ in range(size)))


def _run(connection: Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Execute on the DB-API connection; rows for a read, None for ``many``."""
    dialect = connection.dialect
    if dialect.name != "sqlite":
        # psycopg's placeholders; our statements hold no literal '?' and no '%' (which
        # psycopg would read as the start of a placeholder).
        sql = _postgres_placeholders(sql)
    driver = connection.connection.driver_connection
    try:
        if many:
            cursor = driver.cursor()
            try:
                cursor.executemany(sql, params)
            finally:
                cursor.close()
            return None
        return driver.execute(sql, params).fetchall()
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error) from exc


@lru_cache(maxsize=256)
def _postgres_placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


@lru_cache(maxsize=4096)
def sqlite_datetime(value: datetime) -> str:
    """UTCDateTime's SQLite storage form; a bundle's rows share few distinct values."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def flag_values(sqlite: bool) -> tuple[Any, Any]:
    """``(false, true)`` in the form the driver binds fastest: 1/0 on SQLite, whose sqlite3
    module binds a bool only after an adapter lookup (~0.5 µs a value; SQLite stores the same
    either way), booleans elsewhere. Index it with the flag: ``flag_values(sqlite)[flag]``."""
    return (0, 1) if sqlite else (False, True)


def _sqlite_datetimes(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = sqlite_datetime(values[i])
    return tuple(values)
