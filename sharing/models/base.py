"""Declarative base, naming convention and the column types every model shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names: Alembic's SQLite batch mode needs them to alter tables.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; naive UTC in SQLite, timestamptz in PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            # SQLite hands back text; parse it straight to an aware datetime, remembering
            # recent strings: a feed page reads four timestamps per report, and the reports
            # of one bundle share them (saves ~2 us per value over DateTime's parser plus
            # the decorator's conversion).
            return utc_from_db
        return super().result_processor(dialect, coltype)


@lru_cache(maxsize=65536)
def _sqlite_utc_text(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def utc_from_db(value: Any) -> datetime | None:
    """A UTCDateTime value as a driver returns it (text on SQLite, a datetime on PostgreSQL) as an
    aware UTC datetime; raw DB-API reads (``sharing.bulk.select_in``) use it too."""
    if value is None:
        return None
    if isinstance(value, str):
        return _sqlite_utc_text(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    # Columns holding ciphertext: {attribute: context prefix}. The attribute named by
    # ``__aad_key__`` (a value fixed before insert) completes the associated data, so key
    # rotation can walk every encrypted column generically.
    __encrypted__: dict[str, str] = {}
    __aad_key__: str = "id"


def uuid_pk() -> Any:
    from sqlalchemy.orm import mapped_column

    return mapped_column(String(36), primary_key=True, default=new_uuid)
