"""Read models the portal needs and no other layer has yet, as plain SQLAlchemy (no Flask).

Everything an indicator *says* still comes from :func:`sharing.corroboration.summarise`; these
queries only decide *which* indicators (or audit rows, users, groups) a page lists, always
filtered in SQL by :func:`sharing.visibility.audience_filter`, so a page can never count or list
what the viewer may not see. Paging is keyset (``id < cursor``), never OFFSET, so page 5,000
costs what page 1 does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharing.corroboration import Summary, summarise
from sharing.crypto.cipher import FieldCipher
from sharing.models.accounts import ApiKey, Organization, SharingGroup, SharingGroupMember, User
from sharing.models.audit import AuditEntry
from sharing.models.context import ContextLink, ContextObject
from sharing.models.indicators import Indicator, Report
from sharing.models.sightings import Sighting
from sharing.portal import rollup
from sharing.visibility import Viewer, audience_filter

PAGE_SIZE = 50
CAMPAIGN_TYPES = ("campaign", "intrusion-set")
DASHBOARD_WEEKS = 12


# ---- indicators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorFilter:
    kind: str | None = None
    tlp: str | None = None
    campaign: str | None = None  # STIX id of a visible campaign or intrusion set
    since: date | None = None
    until: date | None = None
    mine: bool = False


def _day_start(day: date) -> datetime:
    from datetime import UTC

    return datetime.combine(day, time.min, tzinfo=UTC)


def search_indicators(
    session: Session,
    viewer: Viewer,
    filters: IndicatorFilter,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[int], int | None]:
    """Ids of visible indicators matching ``filters``, newest first; and the next cursor."""
    query = select(Report.indicator_id).where(
        audience_filter(viewer, Report.group_id, Report.reporter_bi)
    )
    if filters.kind:
        query = query.join(Indicator, Indicator.id == Report.indicator_id).where(
            Indicator.kind == filters.kind
        )
    if filters.tlp:
        query = query.where(Report.tlp == filters.tlp)
    if filters.mine:
        query = query.where(Report.reporter_bi == viewer.reporter_bi)
    if filters.since:
        query = query.where(Report.created_at >= _day_start(filters.since))
    if filters.until:
        query = query.where(Report.created_at < _day_start(filters.until + timedelta(days=1)))
    if filters.campaign:
        query = query.where(
            Report.id.in_(
                select(ContextLink.report_id).where(ContextLink.target_stix_id == filters.campaign)
            )
        )
    if before is not None:
        query = query.where(Report.indicator_id < before)
    rows = list(
        session.scalars(
            query.group_by(Report.indicator_id)
            .order_by(Report.indicator_id.desc())
            .limit(limit + 1)
        )
    )
    next_cursor = rows[limit - 1] if len(rows) > limit else None
    return rows[:limit], next_cursor


def page_summaries(
    session: Session, cipher: FieldCipher, viewer: Viewer, ids: list[int], now: datetime
) -> list[Summary]:
    found = summarise(session, cipher, viewer, ids, now)
    return [found[i] for i in ids if i in found]


def indicator_id_of(session: Session, stix_id: str) -> int | None:
    return session.scalar(select(Indicator.id).where(Indicator.stix_id == stix_id))


@dataclass
class SightingLine:
    kind: str  # seen | false_positive
    who: str  # "your lab" or "another member"
    count: int
    first_seen: datetime
    last_seen: datetime


def sightings_of(session: Session, viewer: Viewer, indicator_id: int) -> list[SightingLine]:
    """Sightings and disputes the viewer may see; other members stay unnamed."""
    lines = []
    for row in session.execute(
        select(Sighting).where(Sighting.indicator_id == indicator_id).order_by(Sighting.first_seen)
    ).scalars():
        own = bytes(row.reporter_bi) == viewer.reporter_bi
        if row.kind == "seen" and not viewer.can_see(row.group_id, bytes(row.reporter_bi)):
            continue
        who = "your lab" if own else "another member"
        lines.append(SightingLine(row.kind, who, row.count, row.first_seen, row.last_seen))
    return lines


def visible_campaigns(
    session: Session, cipher: FieldCipher, viewer: Viewer
) -> list[tuple[str, str]]:
    """(STIX id, name) of the campaigns and intrusion sets the viewer may see, by name."""
    rows = session.execute(
        select(ContextObject.stix_id, ContextObject.body_ct).where(
            ContextObject.stix_type.in_(CAMPAIGN_TYPES),
            ContextObject.revoked.is_(False),
            audience_filter(viewer, ContextObject.group_id, ContextObject.reporter_bi),
        )
    ).all()
    out = []
    for stix_id, body_ct in rows:
        body = json.loads(cipher.decrypt(body_ct, f"context.body:{stix_id}"))
        out.append((stix_id, str(body.get("name") or stix_id)))
    return sorted(out, key=lambda item: item[1].lower())


# ---- dashboard -----------------------------------------------------------------------------


@dataclass
class Dashboard:
    weeks: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    mine: list[int] = field(default_factory=list)
    matches: list[int] = field(default_factory=list)
    new_this_week: int = 0
    total: int = 0
    top_campaigns: list[tuple[str, int]] = field(default_factory=list)

    def chart_data(self) -> dict[str, Any]:
        return {
            "weeks": self.weeks,
            "by_kind": self.by_kind,
            "mine": self.mine,
            "matches": self.matches,
            "campaigns": [{"name": n, "count": c} for n, c in self.top_campaigns],
        }


def dashboard(
    session: Session, cipher: FieldCipher, viewer: Viewer, org_id: int, now: datetime
) -> Dashboard:
    """Weekly counts for the last 12 weeks, as the viewer may see them (from the rollup:
    call :func:`sharing.portal.rollup.refresh` first)."""
    today = now.date()
    start = today - timedelta(days=7 * DASHBOARD_WEEKS - 1)
    result = Dashboard(
        weeks=[(start + timedelta(days=7 * i)).isoformat() for i in range(DASHBOARD_WEEKS)]
    )
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0] * DASHBOARD_WEEKS)
    mine = [0] * DASHBOARD_WEEKS
    for day, kind, reporter_bi, n in rollup.counts(session, viewer, start, today):
        index = (date.fromisoformat(day) - start).days // 7
        if not 0 <= index < DASHBOARD_WEEKS:
            continue
        by_kind[kind][index] += n
        if reporter_bi == viewer.reporter_bi:
            mine[index] += n
    result.by_kind = dict(sorted(by_kind.items()))
    result.new_this_week = sum(series[-1] for series in by_kind.values())
    result.total = rollup.total(session, viewer, today)
    result.mine = mine
    matches = [0] * DASHBOARD_WEEKS
    for when, details in session.execute(
        select(AuditEntry.occurred_at, AuditEntry.details).where(
            AuditEntry.actor_org_id == org_id,
            AuditEntry.action == "match",
            AuditEntry.occurred_at >= rollup.day_start(start),
        )
    ):
        index = (_aware(when).date() - start).days // 7
        if 0 <= index < DASHBOARD_WEEKS:
            matches[index] += int(json.loads(details).get("matched", 0))
    result.matches = matches
    result.top_campaigns = top_campaigns(session, cipher, viewer, today)
    return result


def _aware(when: datetime) -> datetime:
    from datetime import UTC

    return when if when.tzinfo else when.replace(tzinfo=UTC)


def top_campaigns(
    session: Session, cipher: FieldCipher, viewer: Viewer, today: date, limit: int = 8
) -> list[tuple[str, int]]:
    """Visible campaigns by how many visible, live reports are linked to them (rollup)."""
    names = dict(visible_campaigns(session, cipher, viewer))
    if not names:
        return []
    counts = rollup.campaign_counts(session, viewer, today)
    ranked = sorted(
        ((name, counts.get(stix_id, 0)) for stix_id, name in names.items()),
        key=lambda item: (-item[1], item[0]),
    )
    return [item for item in ranked if item[1]][:limit]


# ---- audit ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    since: date | None = None
    until: date | None = None


def audit_events(
    session: Session,
    org_id: int | None,
    filters: AuditFilter,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[AuditEntry], int | None]:
    """The log rows of one organization (None: all, for platform admins), newest first."""
    query = select(AuditEntry)
    if org_id is not None:
        query = query.where(AuditEntry.actor_org_id == org_id)
    if filters.action:
        query = query.where(AuditEntry.action.startswith(filters.action, autoescape=True))
    if filters.actor:
        query = query.where(AuditEntry.actor == filters.actor)
    if filters.since:
        query = query.where(AuditEntry.occurred_at >= _day_start(filters.since))
    if filters.until:
        query = query.where(AuditEntry.occurred_at < _day_start(filters.until + timedelta(days=1)))
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


# ---- members, keys, groups -----------------------------------------------------------------


def org_users(session: Session, org_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.org_id == org_id).order_by(User.username)))


def org_groups(session: Session, org_id: int) -> list[SharingGroup]:
    return list(
        session.scalars(
            select(SharingGroup)
            .join(SharingGroupMember, SharingGroupMember.group_id == SharingGroup.id)
            .where(SharingGroupMember.org_id == org_id)
            .order_by(SharingGroup.name)
        )
    )


@dataclass
class OrgLine:
    name: str
    display_name: str
    active: bool
    users: int
    live_keys: int
    created_at: datetime


def platform_orgs(session: Session, now: datetime) -> list[OrgLine]:
    users = dict(session.execute(select(User.org_id, func.count()).group_by(User.org_id)).all())
    keys = dict(
        session.execute(
            select(ApiKey.org_id, func.count())
            .where(ApiKey.revoked_at.is_(None))
            .where((ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now))
            .group_by(ApiKey.org_id)
        ).all()
    )
    return [
        OrgLine(
            o.name, o.display_name, o.is_active, users.get(o.id, 0), keys.get(o.id, 0), o.created_at
        )
        for o in session.scalars(select(Organization).order_by(Organization.name))
    ]


def groups_with_members(session: Session) -> list[tuple[SharingGroup, list[str]]]:
    members: dict[int, list[str]] = defaultdict(list)
    for group_id, name in session.execute(
        select(SharingGroupMember.group_id, Organization.name)
        .join(Organization, Organization.id == SharingGroupMember.org_id)
        .order_by(Organization.name)
    ):
        members[group_id].append(name)
    groups = session.scalars(select(SharingGroup).order_by(SharingGroup.name))
    return [(g, members.get(g.id, [])) for g in groups]


def group_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        session.execute(
            select(SharingGroup.id, SharingGroup.name).where(SharingGroup.id.in_(sorted(ids)))
        ).all()
    )
