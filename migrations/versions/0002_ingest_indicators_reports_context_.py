"""ingest: indicators, reports, context, submissions, feed log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:48:20.436284
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sharing.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consortium_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sharing.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_consortium_keys")),
    )
    op.create_table(
        "indicators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("blind_index", sa.LargeBinary(length=16), nullable=False),
        sa.Column("value_ct", sa.LargeBinary(), nullable=False),
        sa.Column("consortium_key_id", sa.String(length=32), nullable=False),
        sa.Column("hash_prefix", sa.String(length=5), nullable=False),
        sa.Column("signature_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
        sa.UniqueConstraint("blind_index", name=op.f("uq_indicators_blind_index")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_indicators_stix_id")),
    )
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicators_hash_prefix"), ["hash_prefix"], unique=False
        )

    op.create_table(
        "submissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reporter_bi", sa.LargeBinary(length=16), nullable=False),
        sa.Column("received_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("outcomes_ct", sa.LargeBinary(), nullable=False),
        sa.Column("raw_ct", sa.LargeBinary(), nullable=True),
        sa.Column("raw_expires_at", sharing.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submissions_raw_expires_at"), ["raw_expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_submissions_reporter_bi"), ["reporter_bi"], unique=False
        )

    op.create_table(
        "context_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("stix_type", sa.String(length=40), nullable=False),
        sa.Column("reporter_bi", sa.LargeBinary(length=16), nullable=False),
        sa.Column("reporter_ct", sa.LargeBinary(), nullable=False),
        sa.Column("modified", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sharing_groups.id"],
            name=op.f("fk_context_objects_group_id_sharing_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_context_objects")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_context_objects_stix_id")),
    )
    with op.batch_alter_table("context_objects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_context_objects_reporter_bi"), ["reporter_bi"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_context_objects_stix_type"), ["stix_type"], unique=False
        )

    op.create_table(
        "prompt_bands",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("band_hash", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_prompt_bands_indicator_id_indicators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "band", name=op.f("pk_prompt_bands")),
    )
    with op.batch_alter_table("prompt_bands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompt_bands_band_hash"), ["band_hash"], unique=False)

    op.create_table(
        "reporters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_ct", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporters")),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("reporter_bi", sa.LargeBinary(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column(
            "source_modified", sharing.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("confidence", sa.SmallInteger(), nullable=True),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sharing.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("details_ct", sa.LargeBinary(), nullable=True),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["sharing_groups.id"], name=op.f("fk_reports_group_id_sharing_groups")
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"], name=op.f("fk_reports_indicator_id_indicators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("reporter_bi", "source_id", name=op.f("uq_reports_reporter_bi")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_indicator_id_active", ["indicator_id", "revoked"], unique=False
        )

    op.create_table(
        "context_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("relationship_stix_id", sa.String(length=100), nullable=False),
        sa.Column("target_stix_id", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_context_links_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_context_links")),
        sa.UniqueConstraint(
            "relationship_stix_id", name=op.f("uq_context_links_relationship_stix_id")
        ),
    )
    with op.batch_alter_table("context_links", schema=None) as batch_op:
        batch_op.create_index("ix_context_links_report_id", ["report_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_context_links_target_stix_id"), ["target_stix_id"], unique=False
        )

    op.create_table(
        "feed_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("changed_at", sharing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=True),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("reporter_bi", sa.LargeBinary(length=16), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["context_objects.id"],
            name=op.f("fk_feed_log_context_id_context_objects"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["sharing_groups.id"], name=op.f("fk_feed_log_group_id_sharing_groups")
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"], name=op.f("fk_feed_log_indicator_id_indicators")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feed_log")),
    )
    with op.batch_alter_table("feed_log", schema=None) as batch_op:
        batch_op.create_index("ix_feed_log_changed_at", ["changed_at"], unique=False)
        batch_op.create_index("ix_feed_log_context_id_seq", ["context_id", "seq"], unique=False)
        batch_op.create_index("ix_feed_log_indicator_id_seq", ["indicator_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_log", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_log_indicator_id_seq")
        batch_op.drop_index("ix_feed_log_context_id_seq")
        batch_op.drop_index("ix_feed_log_changed_at")

    op.drop_table("feed_log")
    with op.batch_alter_table("context_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_context_links_target_stix_id"))
        batch_op.drop_index("ix_context_links_report_id")

    op.drop_table("context_links")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_indicator_id_active")

    op.drop_table("reports")
    op.drop_table("reporters")
    with op.batch_alter_table("prompt_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_bands_band_hash"))

    op.drop_table("prompt_bands")
    with op.batch_alter_table("context_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_context_objects_stix_type"))
        batch_op.drop_index(batch_op.f("ix_context_objects_reporter_bi"))

    op.drop_table("context_objects")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_reporter_bi"))
        batch_op.drop_index(batch_op.f("ix_submissions_raw_expires_at"))

    op.drop_table("submissions")
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicators_hash_prefix"))

    op.drop_table("indicators")
    op.drop_table("consortium_keys")
