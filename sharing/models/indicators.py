"""Canonical indicators and the members' reports on them.

One canonical row per (kind, blind index): its STIX id is assigned once and its value (the
member-side hash string) is stored encrypted. Each member's submission about it is a report,
holding that member's confidence, marking, sharing group, validity window and anonymity.
Attribution is kept out of reach of the operator: a report stores a blind index of its
reporter (for "my reports" lookups) and the reporter's id encrypted (for display when the
report is not anonymous), never a plain foreign key to the organization.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharing.crypto.blind_index import INDICATOR_BLIND_INDEX_BYTES
from sharing.models.base import Base, UTCDateTime, utcnow


class Indicator(Base):
    __tablename__ = "indicators"
    __encrypted__ = {"value_ct": "indicators.value", "signature_ct": "indicators.signature"}
    __aad_key__ = "stix_id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stix_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The first 20 bits of the member-side hash (the k-anonymity range bucket), then
    # HMAC(K_idx, kind 0x1f value): the kind is inside the MAC, so one unique index serves
    # "unique per kind", every lookup and the range API (sharing.crypto.blind_index).
    blind_index: Mapped[bytes] = mapped_column(
        LargeBinary(INDICATOR_BLIND_INDEX_BYTES), unique=True
    )
    value_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # Which consortium key hashed the value (public: it is in the hash string members share).
    consortium_key_id: Mapped[str] = mapped_column(String(32))
    signature_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reporter(Base):
    """The pseudonym registry: a reporter's blind index and, encrypted, which member it is.

    Reports carry only the blind index; one row here per member (not per report) holds the
    encrypted organization id, so naming a non-anonymous reporter costs one decryption per
    member rather than one per report.
    """

    __tablename__ = "reporters"
    __encrypted__ = {"org_ct": "reporters.org"}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # hex of the blind index
    org_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Report(Base):
    __tablename__ = "reports"
    __encrypted__ = {"details_ct": "reports.details"}
    __table_args__ = (
        UniqueConstraint("reporter_bi", "source_id"),
        Index("ix_reports_indicator_id_active", "indicator_id", "revoked"),
    )

    # Assigned by the writer under the ingest lock (like indicators) so the row id can bind
    # ciphertexts before the insert.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"))
    reporter_bi: Mapped[bytes] = mapped_column(LargeBinary(16))
    # The member's own STIX id and modified time for the indicator it sent.
    source_id: Mapped[str] = mapped_column(String(64))
    source_modified: Mapped[datetime] = mapped_column(UTCDateTime)
    confidence: Mapped[int | None] = mapped_column(SmallInteger)
    tlp: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_groups.id"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # Name, description, labels... as the member wrote them (encrypted JSON).
    details_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    submission_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromptBand(Base):
    """MinHash LSH band hashes of prompt indicators: candidates for similarity matching."""

    __tablename__ = "prompt_bands"

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    band_hash: Mapped[int] = mapped_column(BigInteger, index=True)
