"""Every act on the record: an append-only, hash-chained audit log and its verifier.

Each row's hash covers its own content and the previous row's hash, so changing or deleting
any row breaks every link after it. Two workers can never fork the chain: row N+1 must take id
N+1 (the primary key). On SQLite the single writer serialises appends; on PostgreSQL an append
that loses the race for an id inserts nothing (``ON CONFLICT DO NOTHING``, which waits for the
winner to commit or roll back) and links to the new head instead, so an append is two
statements, needs no lock and works inside a transaction or in autocommit. Details hold counts
and names, never secrets or queried values: callers pass only what is safe to keep forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

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


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = _canonical(
        entry.id,
        entry.occurred_at,
        entry.actor,
        entry.actor_org_id,
        entry.action,
        entry.target,
        entry.details,
    )
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


def record(
    session: Session | Connection,
    actor: Actor,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (it commits with the act it records).

    Every match request appends one, so this stays on Core: one indexed read of the chain head
    and one INSERT, no unit-of-work flush. The returned entry is a detached copy of the row.
    """
    if isinstance(session, Session) and (session.new or session.dirty or session.deleted):
        session.flush()  # the act being recorded reaches the database first, as before
    connection = core(session)
    postgres = connection.dialect.name == "postgresql"
    details_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)
    for _ in range(_MAX_LOST_RACES + 1):
        last = connection.execute(_HEAD).first()
        prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
        entry = AuditEntry(
            id=prev_id + 1,
            occurred_at=utcnow(),
            actor=actor.label,
            actor_org_id=actor.org_id,
            action=action,
            target=target[:200],
            details=details_json,
            prev_hash=prev_hash,
        )
        entry.row_hash = compute_hash(prev_hash, entry)
        values = {
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
        if not postgres:  # SQLite: the caller's write transaction already excludes others
            connection.execute(_INSERT, values)
            return entry
        if connection.execute(_PG_INSERT, values).first() is not None:
            return entry
    raise Busy("the audit log is busy; retry the request")


# Each lost race means another append committed meanwhile; a hundred in a row does not happen
# under any load the exchange serves, and bounding it keeps a stuck snapshot from looping.
_MAX_LOST_RACES = 100
_HEAD = select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(AuditEntry.__table__)
_PG_INSERT = (
    postgresql.insert(AuditEntry.__table__).on_conflict_do_nothing().returning(AuditEntry.id)
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
