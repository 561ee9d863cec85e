"""Data-key rotation: add a key, make it active, re-encrypt every encrypted column in batches.

Runs beside a serving deployment: each batch is its own short transaction, workers re-read the
key file within seconds (``KeySource``), and rows that a worker wrote under the old key while
it had not yet noticed are caught by a second pass after a grace period.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from sharing import audit
from sharing.crypto import aead
from sharing.crypto.keyring import KeyRing, KeyRingError, KeySource
from sharing.db import Database
from sharing.models.base import Base, utcnow
from sharing.models.keyring import DataKeyRecord


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[Base]
    attribute: str
    context: str


def encrypted_columns() -> list[EncryptedColumn]:
    """Every ciphertext column any model declares in ``__encrypted__``."""
    found = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        for attribute, context in getattr(cls, "__encrypted__", {}).items():
            found.append(EncryptedColumn(cls, attribute, context))
    return sorted(found, key=lambda c: (c.model.__tablename__, c.attribute))


@dataclass
class RotationResult:
    new_key_id: str
    reencrypted: int
    passes: int


def reencrypt_pass(
    db: Database, ring: KeyRing, batch_size: int = 500, progress: Callable[[int], Any] | None = None
) -> int:
    """Re-encrypt every value not under the active key; returns how many were rewritten."""
    total = 0
    for column in encrypted_columns():
        for count in _reencrypt_column(db, ring, column, batch_size):
            total += count
            if progress:
                progress(count)
    return total


def _reencrypt_column(
    db: Database, ring: KeyRing, column: EncryptedColumn, batch_size: int
) -> Iterator[int]:
    model = column.model
    pk = model.__mapper__.primary_key[0]
    aad_key = getattr(model, model.__aad_key__)
    attr = getattr(model, column.attribute)
    last: Any = None
    while True:
        with db.transaction(write=True) as session:
            query = (
                select(pk, aad_key, attr).where(attr.is_not(None)).order_by(pk).limit(batch_size)
            )
            if last is not None:
                query = query.where(pk > last)
            rows = session.execute(query).all()
            if not rows:
                return
            last = rows[-1][0]
            changed = 0
            for row_id, aad_value, blob in rows:
                if aead.key_id_of(blob) == ring.active_id:
                    continue
                context = f"{column.context}:{aad_value}"
                plaintext = aead.decrypt(ring, blob, context)
                # Compare-and-swap: a value a worker rewrote since we read it is left alone
                # (a later pass picks it up if it is still under an old key), never clobbered.
                result = session.execute(
                    update(model)
                    .where(pk == row_id, attr == blob)
                    .values({column.attribute: aead.encrypt(ring, plaintext, context)})
                    .execution_options(synchronize_session=False)
                )
                changed += result.rowcount or 0
        yield changed


def rotate(
    db: Database,
    source: KeySource,
    *,
    actor: audit.Actor,
    batch_size: int = 500,
    grace_seconds: float = KeySource.RECHECK_SECONDS + 1,
    progress: Callable[[int], Any] | None = None,
) -> RotationResult:
    if source.path is None:
        # The new key would exist only in this process: everything re-encrypted under it
        # would be unreadable once it exits.
        raise KeyRingError(
            "the data keys come from environment variables, which rotation cannot update: add a "
            "key to PALISADE_DATA_KEYS and point PALISADE_ACTIVE_DATA_KEY at it instead"
        )
    new_ring = source.refresh().with_new_active_key()
    source.replace(new_ring)
    now = utcnow()
    with db.transaction(write=True) as session:
        for record in session.scalars(select(DataKeyRecord)):
            if record.status == "active":
                record.status = "reading"
        session.add(
            DataKeyRecord(
                key_id=new_ring.active_id,
                status="active",
                created_at=now,
                activated_at=now,
                rotation_started_at=now,
            )
        )
        audit.record(session, actor, "keys.rotate.start", f"datakey:{new_ring.active_id}")
    total = reencrypt_pass(db, new_ring, batch_size, progress)
    passes = 1
    # Workers may have written under the old key until they noticed the new file.
    time.sleep(grace_seconds)
    while True:
        passes += 1
        changed = reencrypt_pass(db, new_ring, batch_size, progress)
        total += changed
        if changed == 0:
            break
    with db.transaction(write=True) as session:
        record = session.get(DataKeyRecord, new_ring.active_id)
        assert record is not None
        record.rotation_finished_at = utcnow()
        record.rows_reencrypted = total
        audit.record(
            session,
            actor,
            "keys.rotate.finish",
            f"datakey:{new_ring.active_id}",
            {"reencrypted": total, "passes": passes},
        )
    return RotationResult(new_ring.active_id, total, passes)


def ensure_key_records(db: Database, ring: KeyRing) -> None:
    """Record the key ids of a freshly created ring (first start)."""
    with db.transaction(write=True) as session:
        known = set(session.scalars(select(DataKeyRecord.key_id)))
        for key_id in ring.data_keys:
            if key_id not in known:
                active = key_id == ring.active_id
                session.add(
                    DataKeyRecord(
                        key_id=key_id,
                        status="active" if active else "reading",
                        activated_at=utcnow() if active else None,
                    )
                )
