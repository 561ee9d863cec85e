"""What one member may know about canonical indicators: the reports it can see, summarised.

Match answers, TAXII objects and portal pages are all built from :func:`summarise`, so the three
can never disagree. Only reports visible to the viewer (``sharing.visibility``) are read; an
indicator with no visible report does not exist for that viewer, and counts never include what
it cannot see.

Score (0-100), after MISP's decaying model: ``base * max(0, 1 - (age / lifetime) ** (1 / speed))``
where ``base = min(100, mean confidence + 10 * (reporters - 1) + 5 * sightings)``, ``age`` is
the time since the indicator was last reported or sighted, ``lifetime`` 180 days and ``speed``
2; a disputed indicator's score is halved. See docs/SCORING.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharing.crypto.cipher import FieldCipher
from sharing.models.context import ContextLink, ContextObject
from sharing.models.indicators import Indicator, Report, Reporter
from sharing.models.sightings import Sighting
from sharing.visibility import Viewer, audience_filter

TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")
DEFAULT_CONFIDENCE = 50
LIFETIME = timedelta(days=180)
DECAY_SPEED = 2.0
ANONYMOUS_LABEL = "a member"


@dataclass
class ReportView:
    report_id: int
    reporter: str  # organization name, or "a member"
    reporter_key: bytes  # the reporter's blind index: distinct reporters, even anonymous ones
    own: bool
    confidence: int | None
    tlp: str
    group_id: int | None
    valid_from: datetime
    valid_until: datetime | None
    revoked: bool
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass
class Summary:
    indicator_id: int
    stix_id: str
    kind: str
    reports: list[ReportView] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    sighting_count: int = 0
    last_sighted: datetime | None = None
    disputed: bool = False
    now: datetime | None = None

    @property
    def active_reports(self) -> list[ReportView]:
        return [r for r in self.reports if r.active]

    @property
    def matchable(self) -> bool:
        return bool(self.active_reports)

    @property
    def revoked(self) -> bool:
        """Every report this viewer can see has been withdrawn or has expired."""
        return not self.active_reports

    @property
    def reporter_count(self) -> int:
        return len({r.reporter_key for r in self.active_reports})

    @property
    def first_seen(self) -> datetime:
        return min(r.created_at for r in self.reports)

    @property
    def last_seen(self) -> datetime:
        times = [r.updated_at for r in self.reports]
        if self.last_sighted:
            times.append(self.last_sighted)
        return max(times)

    @property
    def confidence(self) -> int:
        values = [r.confidence for r in self.active_reports if r.confidence is not None]
        return round(sum(values) / len(values)) if values else DEFAULT_CONFIDENCE

    @property
    def tlp(self) -> str:
        """The least restrictive marking among visible reports: the value is disclosed
        to this reader under that marking by at least one reporter."""
        reports = self.active_reports or self.reports
        return min((r.tlp for r in reports), key=TLP_ORDER.index)

    @property
    def valid_from(self) -> datetime:
        return min(r.valid_from for r in (self.active_reports or self.reports))

    @property
    def valid_until(self) -> datetime | None:
        reports = self.active_reports or self.reports
        if any(r.valid_until is None for r in reports):
            return None
        return max(r.valid_until for r in reports if r.valid_until is not None)

    @property
    def score(self) -> int:
        if not self.active_reports:
            return 0
        base = min(100, self.confidence + 10 * (self.reporter_count - 1) + 5 * self.sighting_count)
        assert self.now is not None
        age = max(timedelta(0), self.now - self.last_seen)
        remaining = max(0.0, 1 - (age / LIFETIME) ** (1 / DECAY_SPEED))
        score = base * remaining
        return round(score / 2 if self.disputed else score)

    @property
    def reporters(self) -> list[str]:
        return sorted({r.reporter for r in self.active_reports})


def _is_active(report: Any, now: datetime) -> bool:
    return not report.revoked and (report.valid_until is None or report.valid_until > now)


def summarise(
    session: Session,
    cipher: FieldCipher,
    viewer: Viewer,
    indicator_ids: Iterable[int],
    now: datetime,
    *,
    org_names: dict[int, str] | None = None,
) -> dict[int, Summary]:
    """Summaries of the given indicators as ``viewer`` may see them (absent: invisible)."""
    ids = sorted(set(indicator_ids))
    if not ids:
        return {}
    summaries: dict[int, Summary] = {}
    names = _ReporterNames(session, cipher, org_names)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Plain rows, not ORM objects: feeds summarise a thousand indicators per page.
        rows = session.execute(
            select(*_REPORT_COLUMNS, Indicator.stix_id, Indicator.kind)
            .join(Indicator, Indicator.id == Report.indicator_id)
            .where(
                Report.indicator_id.in_(chunk),
                audience_filter(viewer, Report.group_id, Report.reporter_bi),
            )
        ).all()
        for report in rows:
            summary = summaries.get(report.indicator_id)
            if summary is None:
                summary = summaries[report.indicator_id] = Summary(
                    report.indicator_id, report.stix_id, report.kind, now=now
                )
            summary.reports.append(_report_view(viewer, report, now, names))
    _attach_campaigns(session, cipher, viewer, summaries)
    _attach_sightings(session, viewer, summaries)
    return summaries


# reporter pseudonym -> organization id. Both sides are immutable (the pseudonym is a keyed hash
# of the id), so a process may remember what it decrypted once; nothing here needs sharing.
_REPORTER_ORGS: dict[bytes, int] = {}


class _ReporterNames:
    """Organization names by reporter pseudonym, decrypting each member's entry once."""

    def __init__(
        self, session: Session, cipher: FieldCipher, org_names: dict[int, str] | None
    ) -> None:
        self.session = session
        self.cipher = cipher
        self.org_names = dict(org_names or {})
        self._cache: dict[bytes, str] = {}

    def __call__(self, reporter_bi: bytes) -> str:
        name = self._cache.get(reporter_bi)
        if name is None:
            org_id = _REPORTER_ORGS.get(reporter_bi)
            if org_id is None:
                row = self.session.get(Reporter, reporter_bi.hex())
                if row is not None:
                    org_id = int(self.cipher.decrypt_text(row.org_ct, f"reporters.org:{row.id}"))
                    _REPORTER_ORGS[reporter_bi] = org_id
            name = ANONYMOUS_LABEL
            if org_id is not None:
                if org_id not in self.org_names:
                    self.org_names[org_id] = _org_name(self.session, org_id)
                name = self.org_names[org_id] or ANONYMOUS_LABEL
            self._cache[reporter_bi] = name
        return name


_REPORT_COLUMNS = (
    Report.id,
    Report.indicator_id,
    Report.reporter_bi,
    Report.anonymous,
    Report.confidence,
    Report.tlp,
    Report.group_id,
    Report.valid_from,
    Report.valid_until,
    Report.revoked,
    Report.created_at,
    Report.updated_at,
)


def _report_view(viewer: Viewer, report: Any, now: datetime, names: _ReporterNames) -> ReportView:
    own = bytes(report.reporter_bi) == viewer.reporter_bi
    reporter = ANONYMOUS_LABEL if report.anonymous and not own else names(bytes(report.reporter_bi))
    return ReportView(
        report_id=report.id,
        reporter=reporter,
        reporter_key=bytes(report.reporter_bi),
        own=own,
        confidence=report.confidence,
        tlp=report.tlp,
        group_id=report.group_id,
        valid_from=report.valid_from,
        valid_until=report.valid_until,
        revoked=report.revoked,
        active=_is_active(report, now),
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


def _org_name(session: Session, org_id: int) -> str:
    from sharing.models.accounts import Organization

    return session.scalar(select(Organization.name).where(Organization.id == org_id)) or ""


def org_names(session: Session) -> dict[int, str]:
    """Every organization's name by id (for pages that name many reporters at once)."""
    from sharing.models.accounts import Organization

    return {row.id: row.name for row in session.execute(select(Organization.id, Organization.name))}


def _attach_campaigns(
    session: Session, cipher: FieldCipher, viewer: Viewer, summaries: dict[int, Summary]
) -> None:
    """Names of visible campaigns/intrusion sets linked from visible, active reports."""
    report_to_indicator = {
        r.report_id: s.indicator_id for s in summaries.values() for r in s.reports if r.active
    }
    if not report_to_indicator:
        return
    links = session.execute(
        select(ContextLink.report_id, ContextLink.target_stix_id).where(
            ContextLink.report_id.in_(sorted(report_to_indicator))
        )
    ).all()
    if not links:
        return
    targets = sorted({target for _, target in links})
    visible = {
        row.stix_id: row
        for row in session.execute(
            select(ContextObject.stix_id, ContextObject.body_ct).where(
                ContextObject.stix_id.in_(targets),
                ContextObject.revoked.is_(False),
                audience_filter(viewer, ContextObject.group_id, ContextObject.reporter_bi),
            )
        )
    }
    names: dict[str, str] = {}
    for stix_id, row in visible.items():
        body = json.loads(cipher.decrypt(row.body_ct, f"context.body:{stix_id}"))
        names[stix_id] = str(body.get("name") or stix_id)
    for report_id, target in links:
        if target in names:
            summary = summaries[report_to_indicator[report_id]]
            if names[target] not in summary.campaigns:
                summary.campaigns.append(names[target])
    for summary in summaries.values():
        summary.campaigns.sort()


def _attach_sightings(session: Session, viewer: Viewer, summaries: dict[int, Summary]) -> None:
    """Sightings (distinct members who saw it, in audiences the viewer is in) and disputes.

    ``sighting_count`` counts members, not their reported counts, so one member cannot push a
    score up by reporting the same sighting many times. A false positive disputes the indicator
    for every viewer who can see it (issue 6), whichever audience the opinion itself has.
    """
    ids = sorted(summaries)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                Sighting.indicator_id,
                Sighting.kind,
                Sighting.last_seen,
                Sighting.group_id,
                Sighting.reporter_bi,
            ).where(Sighting.indicator_id.in_(ids[start : start + 500]))
        ).all()
        for indicator_id, kind, last_seen, group_id, reporter_bi in rows:
            summary = summaries[indicator_id]
            if kind == "false_positive":
                summary.disputed = True
            elif viewer.can_see(group_id, bytes(reporter_bi)):
                summary.sighting_count += 1
                if summary.last_sighted is None or last_seen > summary.last_sighted:
                    summary.last_sighted = last_seen


def decrypt_value(cipher: FieldCipher, stix_id: str, value_ct: bytes) -> str:
    return cipher.decrypt_text(value_ct, f"indicators.value:{stix_id}")


def count_visible(session: Session, viewer: Viewer) -> int:
    """How many indicators this viewer can see at all (for dashboards)."""
    return (
        session.scalar(
            select(func.count(func.distinct(Report.indicator_id))).where(
                audience_filter(viewer, Report.group_id, Report.reporter_bi)
            )
        )
        or 0
    )
