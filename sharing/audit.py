"""Every act on the record: an append-only, hash-chained audit log and its verifier.

Each row's hash covers its own content and the previous row's hash, so changing or deleting
any row breaks every link after it. Two workers can never fork the chain: row N+1 must take id
N+1 (the primary key). On SQLite the single writer serialises appends; on PostgreSQL an append
that loses the race for an id inserts nothing (``ON CONFLICT DO NOTHING``, which waits for the
winner to commit or roll back) and links to the new head instead, so an append is one
statement, needs no lock and works inside a transaction or in autocommit. Details hold counts
and names, never secrets or queried values: callers pass only what is safe to keep forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, bindparam, cast, func, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sharing import bulk
from sharing.db import core
from sharing.errors import Busy
from sharing.models.audit import AuditEntry
from sharing.models.base import utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it: ``user:<name>``, ``key:<prefix>``, ``cli`` or ``system``, and their org."""

    label: str
    org_id: int | None = None


CLI = Actor("cli")
SYSTEM = Actor("system")


def _canonical(
    entry_id: int,
    occurred_at: datetime,
    actor: str,
    actor_org_id: int | None,
    action: str,
    target: str,
    details: str,
) -> bytes:
    return json.dumps(
        [
            entry_id,
            occurred_at.isoformat(timespec="microseconds"),
            actor,
            actor_org_id,
            action,
            target,
            details,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def _body(entry: AuditEntry, entry_id: int) -> bytes:
    return _canonical(
        entry_id,
        entry.occurred_at,
        entry.actor,
        entry.actor_org_id,
        entry.action,
        entry.target,
        entry.details,
    )


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _body(entry, entry.id)).hexdigest()


def record(
    session: Session | Connection,
    actor: Actor,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (it commits with the act it records).

    Every match request appends one, so this stays on Core and costs one statement on
    PostgreSQL (the head is read and the hash computed inside the INSERT) and two on SQLite
    (read the head, insert), with no unit-of-work flush. Returns a detached copy of the row.
    """
    if isinstance(session, Session) and (session.new or session.dirty or session.deleted):
        session.flush()  # the act being recorded reaches the database first, as before
    connection = core(session)
    entry = AuditEntry(
        occurred_at=utcnow(),
        actor=actor.label,
        actor_org_id=actor.org_id,
        action=action,
        target=target[:200],
        details=json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str),
    )
    if connection.dialect.name == "postgresql":
        return _append_postgresql(connection, entry)
    # SQLite: the caller's write transaction already excludes every other appender. On the
    # DB-API connection (sharing.bulk): through Core these two statements cost ~70 µs of a
    # one-item match, against ~5 µs for SQLite to run them.
    last = bulk.fetch_all(connection, _HEAD_SQL)
    entry.id, entry.prev_hash = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS_HASH)
    entry.row_hash = compute_hash(entry.prev_hash, entry)
    bulk.insert_rows(connection, AuditEntry.__table__, [_values(entry)])
    return entry


def _append_postgresql(connection: Connection, entry: AuditEntry) -> AuditEntry:
    # The canonical body is "[<id>," + the rest; only the id depends on the head, so Python
    # encodes the rest once and PostgreSQL's sha256() finishes the hash inside the INSERT.
    rest = _body(entry, 0).decode()
    params = {key: value for key, value in _values(entry).items() if key in _PG_APPEND_PARAMS}
    params["tail"] = rest[rest.index(",") :]
    for _ in range(_MAX_LOST_RACES + 1):
        row = connection.execute(_PG_APPEND, params).first()
        if row is not None:
            entry.id, entry.prev_hash, entry.row_hash = row
            return entry
        # Another append took the next id first; the retry is a new statement, so it sees
        # that row (READ COMMITTED) and links to it.
    raise Busy("the audit log is busy; retry the request")


def _values(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "actor_org_id": entry.actor_org_id,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "row_hash": entry.row_hash,
    }


# Each lost race means another append committed meanwhile; a hundred in a row does not happen
# under any load the exchange serves, and bounding it keeps a stuck snapshot from looping.
_MAX_LOST_RACES = 100
_HEAD_SQL = "SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1"


def _pg_append_statement() -> Any:
    """``INSERT … SELECT`` of row head+1, hashed in SQL, ``ON CONFLICT DO NOTHING``.

    If another append holds id head+1 uncommitted, PostgreSQL waits for it; if it commits, this
    inserts nothing and returns no row, and the caller tries again."""
    newest = select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
    head = select(
        func.coalesce(newest.with_only_columns(AuditEntry.id).scalar_subquery(), 0).label("id"),
        func.coalesce(
            newest.with_only_columns(AuditEntry.row_hash).scalar_subquery(),
            literal(GENESIS_HASH, String),
        ).label("row_hash"),
    ).subquery("head")
    next_id = head.c.id + 1
    body = head.c.row_hash + "\n[" + cast(next_id, String) + bindparam("tail", type_=String)
    row_hash = func.encode(func.sha256(func.convert_to(body, "UTF8")), "hex")
    columns = AuditEntry.__table__.c
    values = select(
        next_id,
        bindparam("occurred_at", type_=columns.occurred_at.type),
        bindparam("actor", type_=String),
        bindparam("actor_org_id", type_=Integer),
        bindparam("action", type_=String),
        bindparam("target", type_=String),
        bindparam("details", type_=Text),
        head.c.row_hash,
        row_hash,
    )
    names = [
        "id",
        "occurred_at",
        "actor",
        "actor_org_id",
        "action",
        "target",
        "details",
        "prev_hash",
        "row_hash",
    ]
    return (
        postgresql.insert(AuditEntry.__table__)
        .from_select(names, values)
        .on_conflict_do_nothing()
        .returning(AuditEntry.id, AuditEntry.prev_hash, AuditEntry.row_hash)
    )


_PG_APPEND = _pg_append_statement()
# What the statement binds; id, prev_hash and row_hash come from the head, in SQL.
_PG_APPEND_PARAMS = frozenset(
    {"occurred_at", "actor", "actor_org_id", "action", "target", "details"}
)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_hash: str
    broken_at: int | None = None
    reason: str | None = None


def verify(session: Session, batch_size: int = 5000) -> VerifyResult:
    """Walk the whole chain; report the first row whose link or content does not hold."""
    prev_hash = GENESIS_HASH
    expected_id = 1
    checked = 0
    for entry in _iter_entries(session, batch_size):
        if entry.id != expected_id:
            return VerifyResult(
                False, checked, prev_hash, expected_id, f"entry {expected_id} is missing"
            )
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                False,
                checked,
                prev_hash,
                entry.id,
                f"entry {entry.id} does not link to entry {entry.id - 1} "
                "(a row was deleted or rewritten)",
            )
        if compute_hash(prev_hash, entry) != entry.row_hash:
            return VerifyResult(
                False, checked, prev_hash, entry.id, f"entry {entry.id} was modified"
            )
        prev_hash = entry.row_hash
        expected_id += 1
        checked += 1
    return VerifyResult(True, checked, prev_hash)


def _iter_entries(session: Session, batch_size: int) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(batch_size)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()
