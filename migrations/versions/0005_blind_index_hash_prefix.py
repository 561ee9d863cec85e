"""indicators: the blind index leads with the hash prefix; drop hash_prefix and its index

Every new indicator went into two random-key indexes for what one can serve: the unique blind
index (dedup, match) and ``ix_indicators_hash_prefix`` (the range API). At 5 million indicators
the second cost a 10,000-indicator bundle thousands of dirtied pages. The blind index is now
``prefix (3 bytes: 20 bits, low nibble zero) || HMAC`` (sharing.crypto.blind_index), so the
range API reads a key range of the unique index and the prefix column goes. Reversible: the
prefix is the first 5 hex digits of the blind index, the old blind index the bytes after it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 03:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 20_000


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "UPDATE indicators SET blind_index = decode(hash_prefix || '0', 'hex') || blind_index"
        )
    else:
        # SQLite before 3.41 has no unhex(): the prefix bytes are made here, in batches.
        last = 0
        while True:
            rows = connection.exec_driver_sql(
                "SELECT id, hash_prefix, blind_index FROM indicators WHERE id > ? ORDER BY id"
                " LIMIT ?",
                (last, _BATCH),
            ).fetchall()
            if not rows:
                break
            connection.exec_driver_sql(
                "UPDATE indicators SET blind_index = ? WHERE id = ?",
                [(bytes.fromhex(prefix + "0") + bytes(bi), row_id) for row_id, prefix, bi in rows],
            )
            last = rows[-1][0]
    op.drop_index("ix_indicators_hash_prefix", table_name="indicators")
    # A native DROP COLUMN (SQLite >= 3.35): no table copy, so no foreign key is disturbed.
    connection.exec_driver_sql("ALTER TABLE indicators DROP COLUMN hash_prefix")


def downgrade() -> None:
    connection = op.get_bind()
    connection.exec_driver_sql("ALTER TABLE indicators ADD COLUMN hash_prefix VARCHAR(5)")
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "UPDATE indicators SET hash_prefix = substring(encode(blind_index, 'hex') from 1 for 5),"
            " blind_index = substring(blind_index from 4)"
        )
    else:
        connection.exec_driver_sql(
            "UPDATE indicators SET hash_prefix = lower(substr(hex(blind_index), 1, 5)),"
            " blind_index = substr(blind_index, 4)"
        )
    with op.batch_alter_table("indicators") as batch_op:
        batch_op.alter_column("hash_prefix", existing_type=sa.String(length=5), nullable=False)
    op.create_index("ix_indicators_hash_prefix", "indicators", ["hash_prefix"], unique=False)
