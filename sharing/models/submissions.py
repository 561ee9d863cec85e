"""Submissions: one row per bundle received, for the status resource and provenance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime, utcnow


class Submission(Base):
    __tablename__ = "submissions"
    __encrypted__ = {"outcomes_ct": "submissions.outcomes", "raw_ct": "submissions.raw"}

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reporter_bi: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="complete")
    total_count: Mapped[int] = mapped_column(Integer, default=0)
    success_count: Mapped[int] = mapped_column(Integer, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, default=0)
    # successes/failures lists (encrypted JSON) and the raw bundle (encrypted gzip).
    outcomes_ct: Mapped[bytes] = mapped_column(LargeBinary)
    raw_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
