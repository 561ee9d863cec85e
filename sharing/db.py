"""Database engine and transaction boundaries, shared by the web app, the CLI and the tests.

Services take a ``Session`` and never commit; the adapter that calls them owns the transaction
through :meth:`Database.transaction`. On SQLite a writing transaction starts with
``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead of failing with
"database is locked" when a read lock is upgraded, and readers never take the write lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "palisade_write"
#: A pooled PostgreSQL connection back in the pool for less than this is handed out unpinged.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN_AT = "palisade_checked_in_at"


class _SharedAutocommit:
    """One lazily checked-out autocommit connection for the scope that opened it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def get(self) -> Connection:
        if self.connection is None:
            self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.connection

    def recover(self) -> None:
        """After a failed statement: end SQLAlchemy's logical transaction, so the next use runs
        (on a new DB-API connection if the server dropped this one) instead of raising
        "Can't reconnect until invalid transaction is rolled back"."""
        if self.connection is not None:
            self.connection.rollback()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


_SHARED: ContextVar[_SharedAutocommit | None] = ContextVar("palisade_shared", default=None)


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN: pysqlite's implicit transactions break
        # SAVEPOINT (per-test rollback) and cannot express BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL + NORMAL is durable against process crashes (kill -9), which is what we promise;
        # FULL would add an fsync per commit for power-loss durability.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        # Reads through the OS page cache, shared by every connection and worker, instead of
        # each connection's private cache: indexes of millions of indicators stay hot once.
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: every request opens a transaction or three, and SQLAlchemy's
        # statement execution around a bare BEGIN cost more than the BEGIN itself.
        statement = (
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
        )
        try:
            conn.connection.driver_connection.execute(statement)
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it ("database is locked", ...)
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def _prepare_postgresql(engine: Engine) -> None:
    """Ping a pooled connection before use only when it has sat idle.

    ``pool_pre_ping`` pings on every checkout: one extra round trip in a one-item match's four.
    A connection returned less than :data:`PING_AFTER_IDLE_SECONDS` ago is handed out as it is;
    one that idled longer (when a server restart or an idle timeout may have closed it) is
    pinged, and replaced if the ping fails. A connection that dies within that second fails
    its statement; SQLAlchemy then discards the whole pool, and the web layer answers that
    one request 503 with ``Retry-After`` (sharing.web.errors)."""

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is not None and time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces the connection and tries again
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the pragmas and pool settings Palisade relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _prepare_sqlite(engine)
        return engine
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql" and not kwargs.get("pool_pre_ping"):
        _prepare_postgresql(engine)
    return engine


def core(executor: Session | Connection) -> Connection:
    """The Core connection behind a session (or the connection itself)."""
    return executor if isinstance(executor, Connection) else executor.connection()


class Database:
    """An engine plus the session factory every adapter uses."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = (
            make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._bound: Connection | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def bind_to_connection(self, connection: Connection) -> None:
        """Route every session through ``connection`` inside SAVEPOINTs (per-test rollback)."""
        self._factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        self._bound = connection

    def unbind(self) -> None:
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._bound = None

    def session(self) -> Session:
        return self._factory()

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self._factory()
        try:
            if write:
                session.connection(execution_options={_WRITE_OPTION: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def connect(self, *, write: bool = False, autocommit: bool = False) -> Iterator[Connection]:
        """:meth:`transaction` for Core-only work: a connection in a transaction, no ORM session.

        For the per-request hot paths (authentication, match lookups, the audit append), where
        the session's unit-of-work bookkeeping cost more than the statements themselves.

        ``autocommit`` (PostgreSQL only; SQLite ignores it): no transaction, each statement
        commits on its own. For work that is correct statement by statement, it saves the
        BEGIN and COMMIT round trips, a third of a one-item match's."""
        if self._bound is not None:  # per-test rollback: a SAVEPOINT, as sessions use
            with self._bound.begin_nested():
                yield self._bound
            return
        if autocommit and self.dialect == "postgresql":
            shared = _SHARED.get()
            if shared is not None and shared.engine is self.engine:
                try:
                    yield shared.get()
                except BaseException:
                    shared.recover()
                    raise
                return
        with self.engine.connect() as connection:
            if autocommit and self.dialect == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
                yield connection
                return
            if write:
                connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                yield connection

    @contextmanager
    def shared_autocommit(self) -> Iterator[None]:
        """Within this scope (one web request), every ``connect(autocommit=True)`` on
        PostgreSQL uses one connection, checked out (and pre-pinged) on first use: a match
        authenticates and looks up with one checkout instead of two."""
        if self.dialect != "postgresql" or self._bound is not None:
            yield
            return
        shared = _SharedAutocommit(self.engine)
        token = _SHARED.set(shared)
        try:
            yield
        finally:
            _SHARED.reset(token)
            shared.close()

    def dispose(self) -> None:
        self.engine.dispose()
