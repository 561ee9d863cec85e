"""Consortium key ids the exchange accepts in hash strings. Ids only: members hold the secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime, utcnow


class ConsortiumKeyId(Base):
    __tablename__ = "consortium_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
