"""Consortium key ids the exchange accepts. The secrets stay with the members."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing import audit
from sharing.errors import Conflict, InvalidInput, NotFound
from sharing.models.base import utcnow
from sharing.models.consortium import ConsortiumKeyId

KEY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def register(session: Session, key_id: str, *, actor: audit.Actor) -> ConsortiumKeyId:
    if not KEY_ID_RE.match(key_id):
        raise InvalidInput(f"consortium key id {key_id!r} must match {KEY_ID_RE.pattern}")
    if session.get(ConsortiumKeyId, key_id) is not None:
        raise Conflict(f"consortium key id {key_id!r} is already registered")
    row = ConsortiumKeyId(key_id=key_id)
    session.add(row)
    session.flush()
    audit.record(session, actor, "consortium_key.register", f"consortium_key:{key_id}")
    return row


def retire(session: Session, key_id: str, *, actor: audit.Actor) -> None:
    row = session.get(ConsortiumKeyId, key_id)
    if row is None:
        raise NotFound(f"consortium key id {key_id!r} is not registered")
    row.retired_at = utcnow()
    audit.record(session, actor, "consortium_key.retire", f"consortium_key:{key_id}")


def active_ids(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(ConsortiumKeyId.key_id)
            .where(ConsortiumKeyId.retired_at.is_(None))
            .order_by(ConsortiumKeyId.key_id)
        )
    )
