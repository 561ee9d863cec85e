"""The dashboard's per-day report counts: exact per viewer, without scanning a million rows.

Counting what a viewer may see means filtering every report by its audience, which at 1M
reports costs seconds. But a report's audience is just (``group_id``, ``reporter_bi``), so
counts per (UTC day, kind, group_id, reporter_bi) are few (days x kinds x audiences) and a
viewer's figures are sums over the rows whose audience includes it (``audience_filter``).

Past days are stored in ``portal_day_counts``; today is always counted live from ``reports``
(its rows are few). A stored day is recomputed from scratch whenever a report created that day
is added (report id above the mark: ids are assigned in commit order under the ingest lock) or
changed (``updated_at`` above the mark, with a margin for clock skew between workers): an
update may move a report to another sharing group, and recomputing the whole day keeps the
rollup exact instead of approximately adjusted. No Flask here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sharing.db import Database
from sharing.models.context import ContextLink
from sharing.models.indicators import Indicator, Report
from sharing.models.portal import PortalDayCampaign, PortalDayCount, PortalRollupState
from sharing.visibility import Viewer, audience_filter

#: Updates stamped up to this long before the previous refresh still count as new (skew).
SKEW = timedelta(minutes=5)
STATE_ID = 1


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day_expr(session: Session) -> ColumnElement[str]:
    """``YYYY-MM-DD`` (UTC) of ``reports.created_at`` in SQL, per dialect."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(Report.created_at, 1, 10)  # stored as naive UTC text
    return func.to_char(func.timezone("UTC", Report.created_at), "YYYY-MM-DD")


def _aggregate(session: Session, since: datetime, until: datetime) -> list[Any]:
    day = _day_expr(session).label("day")
    return list(
        session.execute(
            select(day, Indicator.kind, Report.group_id, Report.reporter_bi, func.count())
            .join(Indicator, Indicator.id == Report.indicator_id)
            .where(Report.created_at >= since, Report.created_at < until)
            .group_by(day, Indicator.kind, Report.group_id, Report.reporter_bi)
        )
    )


def _aggregate_campaigns(session: Session, since: datetime, until: datetime) -> list[Any]:
    day = _day_expr(session).label("day")
    return list(
        session.execute(
            select(
                day,
                ContextLink.target_stix_id,
                Report.group_id,
                Report.reporter_bi,
                func.count(func.distinct(Report.id)),
            )
            .join(ContextLink, ContextLink.report_id == Report.id)
            .where(
                Report.created_at >= since,
                Report.created_at < until,
                Report.revoked.is_(False),
            )
            .group_by(day, ContextLink.target_stix_id, Report.group_id, Report.reporter_bi)
        )
    )


def _store(session: Session, since: datetime, until: datetime) -> None:
    session.add_all(
        PortalDayCount(day=d, kind=k, group_id=g, reporter_bi=bytes(r), reports=n)
        for d, k, g, r, n in _aggregate(session, since, until)
    )
    session.add_all(
        PortalDayCampaign(day=d, target_stix_id=t, group_id=g, reporter_bi=bytes(r), reports=n)
        for d, t, g, r, n in _aggregate_campaigns(session, since, until)
    )


def _dirty_days(session: Session, state: PortalRollupState, today: date) -> set[date]:
    day = _day_expr(session)
    found = set(session.scalars(select(day).where(Report.id > state.report_mark).distinct()))
    found |= set(
        session.scalars(
            select(day)
            .join(ContextLink, ContextLink.report_id == Report.id)
            .where(ContextLink.id > state.link_mark)
            .distinct()
        )
    )
    if state.updated_mark is not None:
        found |= set(
            session.scalars(
                select(day).where(Report.updated_at > state.updated_mark - SKEW).distinct()
            )
        )
    days = {date.fromisoformat(d) for d in found if d}
    if state.updated_mark is not None:
        # Days that were "today" (live, not stored) at the last refresh and have ended since.
        day = state.updated_mark.date()
        while day < today:
            days.add(day)
            day += timedelta(days=1)
    return {d for d in days if d < today}


def _rebuild(session: Session, days: Iterable[date]) -> None:
    for day in sorted(days):
        session.execute(delete(PortalDayCount).where(PortalDayCount.day == day.isoformat()))
        session.execute(delete(PortalDayCampaign).where(PortalDayCampaign.day == day.isoformat()))
        _store(session, day_start(day), day_start(day + timedelta(days=1)))


def _marks(session: Session) -> tuple[int, int]:
    report = session.scalar(select(func.max(Report.id))) or 0
    link = session.scalar(select(func.max(ContextLink.id))) or 0
    return report, link


def refresh(db: Database, now: datetime) -> None:
    """Fold new and changed reports into the stored days (cheap when nothing changed)."""
    today = now.date()
    with db.transaction() as session:
        state = session.get(PortalRollupState, STATE_ID)
        if state is not None and not _dirty_days(session, state, today):
            return
    try:
        with db.transaction(write=True) as session:
            query = select(PortalRollupState).where(PortalRollupState.id == STATE_ID)
            state = session.scalar(query.with_for_update())
            if state is None:
                state = PortalRollupState(id=STATE_ID, report_mark=0, link_mark=0)
                session.add(state)
                session.execute(delete(PortalDayCount))
                session.execute(delete(PortalDayCampaign))
                marks = _marks(session)
                _store(session, datetime(1970, 1, 1, tzinfo=UTC), day_start(today))
            else:
                marks = _marks(session)
                _rebuild(session, _dirty_days(session, state, today))
            state.report_mark, state.link_mark = marks
            state.updated_mark = now
    except OperationalError:
        # A busy store: serve this view from what is stored; the next view folds the rest in.
        return


def total(session: Session, viewer: Viewer, today: date) -> int:
    """Every report visible to ``viewer``, stored days plus today."""
    stored = session.scalar(
        select(func.sum(PortalDayCount.reports)).where(
            audience_filter(viewer, PortalDayCount.group_id, PortalDayCount.reporter_bi)
        )
    )
    live = session.scalar(
        select(func.count()).where(
            Report.created_at >= day_start(today),
            audience_filter(viewer, Report.group_id, Report.reporter_bi),
        )
    )
    return int(stored or 0) + int(live or 0)


def counts(
    session: Session, viewer: Viewer, since: date, today: date
) -> list[tuple[str, str, bytes, int]]:
    """(day, kind, reporter_bi, reports) visible to ``viewer`` from ``since`` through today."""
    stored = session.execute(
        select(
            PortalDayCount.day,
            PortalDayCount.kind,
            PortalDayCount.reporter_bi,
            func.sum(PortalDayCount.reports),
        )
        .where(
            PortalDayCount.day >= since.isoformat(),
            PortalDayCount.day < today.isoformat(),
            audience_filter(viewer, PortalDayCount.group_id, PortalDayCount.reporter_bi),
        )
        .group_by(PortalDayCount.day, PortalDayCount.kind, PortalDayCount.reporter_bi)
    ).all()
    live: dict[tuple[str, str, bytes], int] = {}
    rows = _today_reports(session, viewer, today)
    kinds = _kinds(session, [indicator_id for _, indicator_id, _ in rows])
    for _, indicator_id, reporter_bi in rows:
        key = (today.isoformat(), kinds[indicator_id], reporter_bi)
        live[key] = live.get(key, 0) + 1
    return [(d, k, bytes(r), int(n)) for d, k, r, n in stored] + [
        (d, k, r, n) for (d, k, r), n in live.items()
    ]


def _today_reports(
    session: Session, viewer: Viewer, today: date, *, live_only: bool = False
) -> list[tuple[int, int, bytes]]:
    """(report id, indicator id, reporter) of today's visible reports, by the created_at index
    (fetched first, so no planner can pick a scan of a bigger table to join them)."""
    query = select(Report.id, Report.indicator_id, Report.reporter_bi).where(
        Report.created_at >= day_start(today),
        audience_filter(viewer, Report.group_id, Report.reporter_bi),
    )
    if live_only:
        query = query.where(Report.revoked.is_(False))
    return [(i, j, bytes(r)) for i, j, r in session.execute(query)]


def _chunks(values: list[int], size: int = 2000) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _kinds(session: Session, ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = select(Indicator.id, Indicator.kind).where(Indicator.id.in_(chunk))
        found.update((row[0], row[1]) for row in session.execute(query))
    return found


def campaign_counts(session: Session, viewer: Viewer, today: date) -> dict[str, int]:
    """Live reports per campaign/intrusion-set STIX id that ``viewer`` may see (all days)."""
    totals: dict[str, int] = {}
    stored = session.execute(
        select(PortalDayCampaign.target_stix_id, func.sum(PortalDayCampaign.reports))
        .where(
            PortalDayCampaign.day < today.isoformat(),
            audience_filter(viewer, PortalDayCampaign.group_id, PortalDayCampaign.reporter_bi),
        )
        .group_by(PortalDayCampaign.target_stix_id)
    ).all()
    ids = [report_id for report_id, _, _ in _today_reports(session, viewer, today, live_only=True)]
    live: list[Any] = []
    for chunk in _chunks(ids):
        live += session.execute(
            select(ContextLink.target_stix_id, func.count(func.distinct(ContextLink.report_id)))
            .where(ContextLink.report_id.in_(chunk))
            .group_by(ContextLink.target_stix_id)
        ).all()
    for target, n in [*stored, *live]:
        totals[target] = totals.get(target, 0) + int(n or 0)
    return totals
