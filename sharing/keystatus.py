"""Key-rotation state for operators: which data keys exist and what each still protects."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from sharing.crypto import aead
from sharing.keyrotation import encrypted_columns
from sharing.models.keyring import DataKeyRecord
from sharing.runtime import Runtime


def key_status(rt: Runtime, *, count_values: bool = True) -> dict[str, Any]:
    """Key ids, the active one, rotation progress and, when ``count_values``, how many stored
    values each key protects. Counting reads every ciphertext header (seconds at millions of
    rows), so pages show the rotation records and leave the count to ``palisade keys status``."""
    ring = rt.keys.current()
    counts: Counter[str] = Counter()
    with rt.db.transaction() as session:
        for column in encrypted_columns() if count_values else ():
            attr = getattr(column.model, column.attribute)
            for blob in session.execute(
                select(attr).where(attr.is_not(None)).execution_options(yield_per=2000)
            ).scalars():
                counts[aead.key_id_of(blob)] += 1
        records = {r.key_id: r for r in session.scalars(select(DataKeyRecord))}
    return {
        "active": ring.active_id,
        "keys": [
            {
                "id": key_id,
                "active": key_id == ring.active_id,
                "values": counts.get(key_id, 0) if count_values else None,
                "status": records[key_id].status if key_id in records else "unrecorded",
                "rotation_finished_at": (
                    records[key_id].rotation_finished_at if key_id in records else None
                ),
                "rows_reencrypted": records[key_id].rows_reencrypted if key_id in records else 0,
            }
            for key_id in ring.data_keys
        ],
        "unknown_key_values": {k: v for k, v in counts.items() if k not in ring.data_keys},
    }
