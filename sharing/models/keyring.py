"""Key-ring metadata: which data keys exist and how far rotation got. Never key material."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime, utcnow


class DataKeyRecord(Base):
    __tablename__ = "data_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|reading|retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotation_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotation_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_reencrypted: Mapped[int] = mapped_column(Integer, default=0)
