"""Members' sightings and false-positive reports on canonical indicators.

One row per (indicator, reporter, kind): a member that sees the same indicator again bumps
``count`` and ``last_seen`` instead of adding rows, so the table grows with distinct
(member, indicator) pairs, not with traffic. The row points at the STIX ``sighting`` or
``opinion`` context object that carries it into the TAXII feed. ``group_id`` is the sighting's
audience (NULL: everyone who can see the indicator), chosen when it is first stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime, utcnow

SIGHTING_KINDS = ("seen", "false_positive")


class Sighting(Base):
    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("indicator_id", "reporter_bi", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    reporter_bi: Mapped[bytes] = mapped_column(LargeBinary(16))
    # seen | false_positive
    kind: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_groups.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    context_id: Mapped[int] = mapped_column(ForeignKey("context_objects.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
