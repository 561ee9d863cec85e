"""Context objects (campaigns, intrusion sets, relationships, notes...) and their links.

Stored encrypted as the member sent them (with references to the member's own indicator ids
re-pointed to the canonical indicators), visible per marking like reports. ``ContextLink`` ties
a report to the campaigns and intrusion sets it was related to, so a match can name them
without decrypting every relationship.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime, utcnow


class ContextObject(Base):
    __tablename__ = "context_objects"
    __encrypted__ = {"reporter_ct": "context.reporter", "body_ct": "context.body"}
    __aad_key__ = "stix_id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stix_id: Mapped[str] = mapped_column(String(100), unique=True)
    stix_type: Mapped[str] = mapped_column(String(40), index=True)
    reporter_bi: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    reporter_ct: Mapped[bytes] = mapped_column(LargeBinary)
    modified: Mapped[datetime] = mapped_column(UTCDateTime)
    tlp: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_groups.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    submission_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContextLink(Base):
    """report --indicates/attributed-to--> campaign or intrusion-set (by STIX id)."""

    __tablename__ = "context_links"
    __table_args__ = (Index("ix_context_links_report_id", "report_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    relationship_stix_id: Mapped[str] = mapped_column(String(100), unique=True)
    target_stix_id: Mapped[str] = mapped_column(String(100), index=True)
