"""The change log feeds read from: one row per change a reader could see, never updated.

``seq`` is assigned by the writer while it holds the ingest lock, so sequence order is commit
order and a reader that has seen ``seq = n`` can never later find a committed row below ``n``
(the failure mode of ordering by wall clock or by an unsynchronised sequence). ``changed_at``
is TAXII's ``date_added``; it never goes backwards either.

Audience: a row is visible to member M when ``public`` is true, or M is in ``group_id``, or M's
reporter blind index equals ``reporter_bi`` (a member always sees its own changes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime


class FeedEntry(Base):
    __tablename__ = "feed_log"
    __table_args__ = (
        Index("ix_feed_log_indicator_id_seq", "indicator_id", "seq"),
        Index("ix_feed_log_context_id_seq", "context_id", "seq"),
        Index("ix_feed_log_changed_at", "changed_at"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("context_objects.id"))
    public: Mapped[bool] = mapped_column(Boolean)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_groups.id"))
    reporter_bi: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    # new | report | update | revoke | sighting | dispute
    reason: Mapped[str] = mapped_column(String(16))
