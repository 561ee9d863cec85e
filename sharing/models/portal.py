"""Portal-only tables: per-user TOTP state, and the dashboard's per-day rollup.

``PortalUserState`` holds a user's TOTP enrolment time and the last accepted TOTP time step.

Kept out of ``users`` so the portal's second factor can evolve without touching the accounts
aggregate. ``totp_last_step`` makes every code single-use (RFC 6238 section 5.2): a code seen
over a shoulder or replayed from a proxy log is refused even inside its 30-second window.
The secret itself stays in ``users.totp_secret_ct`` (encrypted, context
``users.totp_secret:<user id>``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sharing.models.base import Base, UTCDateTime
from sharing.models.indicators import Report


class PortalUserState(Base):
    __tablename__ = "portal_user_state"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalDayCount(Base):
    """Reports per (UTC day, kind, audience): the dashboard's rollup, rebuilt per dirty day.

    The audience of a report is exactly (``group_id``, ``reporter_bi``) (see
    ``sharing.visibility``), so a viewer's count is a sum over the rows whose audience includes
    it, filtered in SQL like every other read. Only days before today are stored; a day is
    recomputed from ``reports`` whenever a report in it is added or changed (its audience may
    have changed), so the rollup never counts a report for an audience that no longer has it.
    """

    __tablename__ = "portal_day_counts"
    __table_args__ = (Index("ix_portal_day_counts_day", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC)
    kind: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int | None] = mapped_column(Integer)
    reporter_bi: Mapped[bytes] = mapped_column(LargeBinary(16))
    reports: Mapped[int] = mapped_column(Integer)


class PortalDayCampaign(Base):
    """Live (not revoked) reports linked to a campaign or intrusion set, per (UTC day of the
    report, target, audience): the "top campaigns" chart, maintained with the day counts."""

    __tablename__ = "portal_day_campaigns"
    __table_args__ = (Index("ix_portal_day_campaigns_day", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    target_stix_id: Mapped[str] = mapped_column(String(100))
    group_id: Mapped[int | None] = mapped_column(Integer)
    reporter_bi: Mapped[bytes] = mapped_column(LargeBinary(16))
    reports: Mapped[int] = mapped_column(Integer)


class PortalRollupState(Base):
    """High-water marks of the rollup: the last report id, link id and update time folded in."""

    __tablename__ = "portal_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_mark: Mapped[int] = mapped_column(BigInteger, default=0)
    link_mark: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_mark: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Dirty-day detection and today's live counts read reports by time: index them (declared here,
# on the reports table, so Alembic's autogenerate keeps them).
Index("ix_portal_reports_created_at", Report.created_at)
Index("ix_portal_reports_updated_at", Report.updated_at)
