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

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sharing.crypto import aead
from sharing.crypto.cipher import FieldCipher
from sharing.db import core
from sharing.models.context import ContextLink, ContextObject
from sharing.models.indicators import Indicator, Report, Reporter
from sharing.models.sightings import Sighting
from sharing.visibility import Viewer, audience_filter, audience_params, bound_audience_filter

TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")
DEFAULT_CONFIDENCE = 50
LIFETIME = timedelta(days=180)
DECAY_SPEED = 2.0
ANONYMOUS_LABEL = "a member"
CHUNK = 1000  # ids per IN list: one statement for a feed page, far below any driver limit


@dataclass(slots=True)
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


class Facts(NamedTuple):
    """Every derived property of a :class:`Summary`, computed together in one pass (a tuple:
    a thousand are built per feed page)."""

    active_reports: list[ReportView]
    reporter_count: int
    first_seen: datetime
    last_seen: datetime
    confidence: int
    tlp: str
    valid_from: datetime
    valid_until: datetime | None
    score: int
    reporters: list[str]


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
    _facts: Facts | None = field(default=None, init=False, repr=False, compare=False)
    _facts_key: tuple[Any, ...] = field(default=(), init=False, repr=False, compare=False)

    def facts(self) -> Facts:
        """The derived properties, computed once for the summary's current inputs.

        Feeds render a thousand summaries a page and read most properties of each; the
        properties below all come from here, recomputed only if the inputs changed.
        """
        key = (len(self.reports), self.sighting_count, self.last_sighted, self.disputed, self.now)
        if self._facts is None or key != self._facts_key:
            self._facts, self._facts_key = _facts(self), key
        return self._facts

    @property
    def active_reports(self) -> list[ReportView]:
        return self.facts().active_reports

    @property
    def matchable(self) -> bool:
        return bool(self.facts().active_reports)

    @property
    def revoked(self) -> bool:
        """Every report this viewer can see has been withdrawn or has expired."""
        return not self.facts().active_reports

    @property
    def reporter_count(self) -> int:
        return self.facts().reporter_count

    @property
    def first_seen(self) -> datetime:
        return self.facts().first_seen

    @property
    def last_seen(self) -> datetime:
        return self.facts().last_seen

    @property
    def confidence(self) -> int:
        return self.facts().confidence

    @property
    def tlp(self) -> str:
        """The least restrictive marking among visible reports: the value is disclosed
        to this reader under that marking by at least one reporter."""
        return self.facts().tlp

    @property
    def valid_from(self) -> datetime:
        return self.facts().valid_from

    @property
    def valid_until(self) -> datetime | None:
        return self.facts().valid_until

    @property
    def score(self) -> int:
        return self.facts().score

    @property
    def reporters(self) -> list[str]:
        return self.facts().reporters


_TLP_RANK = {tlp: rank for rank, tlp in enumerate(TLP_ORDER)}


def _score(summary: Summary, confidence: int, reporter_count: int, last_seen: datetime) -> int:
    base = min(100, confidence + 10 * (reporter_count - 1) + 5 * summary.sighting_count)
    assert summary.now is not None
    age = max(timedelta(0), summary.now - last_seen)
    remaining = max(0.0, 1 - (age / LIFETIME) ** (1 / DECAY_SPEED))
    return round(base * remaining / 2 if summary.disputed else base * remaining)


def _one_report_facts(summary: Summary, r: ReportView) -> Facts:
    """The common case (one visible report, never sighted): what :func:`_facts` computes,
    without the loops."""
    if not r.active:
        return Facts(
            [],
            0,
            r.created_at,
            r.updated_at,
            DEFAULT_CONFIDENCE,
            r.tlp,
            r.valid_from,
            r.valid_until,
            0,
            [],
        )
    confidence = DEFAULT_CONFIDENCE if r.confidence is None else r.confidence
    return Facts(
        [r],
        1,
        r.created_at,
        r.updated_at,
        confidence,
        r.tlp,
        r.valid_from,
        r.valid_until,
        _score(summary, confidence, 1, r.updated_at),
        [r.reporter],
    )


def _facts(summary: Summary) -> Facts:
    """One pass over the reports (then one over the active ones): a feed page calls this for a
    thousand indicators, so no property walks the list on its own."""
    reports = summary.reports
    if len(reports) == 1 and summary.last_sighted is None:
        return _one_report_facts(summary, reports[0])
    first = reports[0]
    first_seen, last_seen = first.created_at, first.updated_at
    active: list[ReportView] = []
    for r in reports:
        if r.created_at < first_seen:
            first_seen = r.created_at
        if r.updated_at > last_seen:
            last_seen = r.updated_at
        if r.active:
            active.append(r)
    if summary.last_sighted is not None and summary.last_sighted > last_seen:
        last_seen = summary.last_sighted
    # marking and validity come from the active reports, or from all if none is active
    basis = active or reports
    rank, tlp = _TLP_RANK[basis[0].tlp], basis[0].tlp
    valid_from, valid_until = basis[0].valid_from, basis[0].valid_until
    for r in basis:
        if _TLP_RANK[r.tlp] < rank:
            rank, tlp = _TLP_RANK[r.tlp], r.tlp
        if r.valid_from < valid_from:
            valid_from = r.valid_from
        if valid_until is not None and (r.valid_until is None or r.valid_until > valid_until):
            valid_until = r.valid_until
    keys: set[bytes] = set()
    names: set[str] = set()
    total = counted = 0
    for r in active:
        keys.add(r.reporter_key)
        names.add(r.reporter)
        if r.confidence is not None:
            total += r.confidence
            counted += 1
    confidence = round(total / counted) if counted else DEFAULT_CONFIDENCE
    reporter_count = len(keys)
    score = _score(summary, confidence, reporter_count, last_seen) if active else 0
    return Facts(
        active_reports=active,
        reporter_count=reporter_count,
        first_seen=first_seen,
        last_seen=last_seen,
        confidence=confidence,
        tlp=tlp,
        valid_from=valid_from,
        valid_until=valid_until,
        score=score,
        reporters=sorted(names),
    )


def summarise(
    session: Session | Connection,
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
    # Core rows on the session's connection, not the ORM's result layer: feeds summarise a
    # thousand indicators per page, and matching up to ``max_match_items``.
    connection = core(session)
    names = _ReporterNames(connection, cipher, org_names)
    params = audience_params(viewer)
    linked: set[int] = set()  # report ids with context links
    with_sightings: set[int] = set()  # indicator ids with sightings
    own_key = viewer.reporter_bi
    reporter_names = names.cache  # pseudonym -> name, filled by ``names`` on a miss
    for start in range(0, len(ids), CHUNK):
        rows = connection.execute(
            _SUMMARY_REPORTS, {"ids": ids[start : start + CHUNK], **params}
        ).all()
        # one loop, positional: this runs once per visible report on every feed page
        for row in rows:
            report_id, indicator_id, reporter_bi, anonymous = row[:4]
            valid_until, revoked = row[8], row[9]
            created_at, updated_at, stix_id, kind, report_linked, report_sighted = row[10:]
            if report_linked:
                linked.add(report_id)
            if report_sighted:
                with_sightings.add(indicator_id)
            summary = summaries.get(indicator_id)
            if summary is None:
                summary = summaries[indicator_id] = Summary(indicator_id, stix_id, kind, now=now)
            key = bytes(reporter_bi)
            own = key == own_key
            if anonymous and not own:
                reporter = ANONYMOUS_LABEL
            else:
                reporter = reporter_names.get(key) or names(key)
            active = not revoked and (valid_until is None or valid_until > now)
            # row[4:10]: confidence, tlp, group_id, valid_from, valid_until, revoked
            view = ReportView(
                report_id, reporter, key, own, *row[4:10], active, created_at, updated_at
            )
            summary.reports.append(view)
    _attach_campaigns(connection, cipher, viewer, summaries, linked)
    _attach_sightings(connection, viewer, summaries, with_sightings)
    return summaries


# reporter pseudonym -> organization id. Both sides are immutable (the pseudonym is a keyed hash
# of the id), so a process may remember what it decrypted once; nothing here needs sharing.
_REPORTER_ORGS: dict[bytes, int] = {}


class _ReporterNames:
    """Organization names by reporter pseudonym, decrypting each member's entry once."""

    def __init__(
        self, connection: Connection, cipher: FieldCipher, org_names: dict[int, str] | None
    ) -> None:
        self.connection = connection
        self.cipher = cipher
        self.org_names = dict(org_names or {})
        self.cache: dict[bytes, str] = {}

    def __call__(self, reporter_bi: bytes) -> str:
        name = self.cache.get(reporter_bi)
        if name is None:
            org_id = _REPORTER_ORGS.get(reporter_bi)
            if org_id is None:
                row = self.connection.execute(_REPORTER_ORG, {"id": reporter_bi.hex()}).first()
                if row is not None:
                    org_id = int(self.cipher.decrypt_text(row.org_ct, f"reporters.org:{row.id}"))
                    _REPORTER_ORGS[reporter_bi] = org_id
            name = ANONYMOUS_LABEL
            if org_id is not None:
                if org_id not in self.org_names:
                    self.org_names[org_id] = _org_name(self.connection, org_id)
                name = self.org_names[org_id] or ANONYMOUS_LABEL
            self.cache[reporter_bi] = name
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


# Built once: summarise runs on every match request, and building and cache-keying this
# statement cost more than running it for one indicator. Two flags per report (index seeks)
# spare the link and sighting look-ups, each a long IN list, for the many indicators that have
# neither.
_SUMMARY_REPORTS = (
    select(
        *_REPORT_COLUMNS,
        Indicator.stix_id,
        Indicator.kind,
        select(literal(1)).where(ContextLink.report_id == Report.id).exists().label("linked"),
        select(literal(1))
        .where(Sighting.indicator_id == Report.indicator_id)
        .exists()
        .label("sighted"),
    )
    .join(Indicator, Indicator.id == Report.indicator_id)
    .where(
        Report.indicator_id.in_(bindparam("ids", expanding=True)),
        bound_audience_filter(Report.group_id, Report.reporter_bi),
    )
)


@functools.cache
def _org_name_statement() -> Select[tuple[str]]:
    from sharing.models.accounts import Organization  # accounts imports this module

    return select(Organization.name).where(Organization.id == bindparam("org_id"))


def _org_name(connection: Connection, org_id: int) -> str:
    return connection.execute(_org_name_statement(), {"org_id": org_id}).scalar() or ""


_REPORTER_ORG = select(Reporter.id, Reporter.org_ct).where(Reporter.id == bindparam("id"))


def org_names(session: Session) -> dict[int, str]:
    """Every organization's name by id (for pages that name many reporters at once)."""
    from sharing.models.accounts import Organization

    return {row.id: row.name for row in session.execute(select(Organization.id, Organization.name))}


def _attach_campaigns(
    connection: Connection,
    cipher: FieldCipher,
    viewer: Viewer,
    summaries: dict[int, Summary],
    linked: set[int],
) -> None:
    """Names of visible campaigns/intrusion sets linked from visible, active reports
    (``linked``: the reports that have context links at all)."""
    report_to_indicator = {
        r.report_id: s.indicator_id
        for s in summaries.values()
        for r in s.reports
        if r.active and r.report_id in linked
    }
    if not report_to_indicator:
        return
    stmt = select(ContextLink.report_id, ContextLink.target_stix_id).where(
        ContextLink.report_id.in_(bindparam("ids", expanding=True))
    )
    report_ids = sorted(report_to_indicator)
    links = [
        link
        for start in range(0, len(report_ids), CHUNK)
        for link in connection.execute(stmt, {"ids": report_ids[start : start + CHUNK]})
    ]
    if not links:
        return
    targets = sorted({target for _, target in links})
    visible = {
        row.stix_id: row
        for row in connection.execute(
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


def _attach_sightings(
    connection: Connection, viewer: Viewer, summaries: dict[int, Summary], sighted: set[int]
) -> None:
    """Sightings (distinct members who saw it, in audiences the viewer is in) and disputes.

    ``sighting_count`` counts members, not their reported counts, so one member cannot push a
    score up by reporting the same sighting many times. A false positive disputes the indicator
    for every viewer who can see it (issue 6), whichever audience the opinion itself has.
    """
    ids = sorted(sighted)
    if not ids:
        return
    stmt = select(
        Sighting.indicator_id,
        Sighting.kind,
        Sighting.last_seen,
        Sighting.group_id,
        Sighting.reporter_bi,
    ).where(Sighting.indicator_id.in_(bindparam("ids", expanding=True)))
    for start in range(0, len(ids), CHUNK):
        rows = connection.execute(stmt, {"ids": ids[start : start + CHUNK]}).all()
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


def decrypt_values(cipher: FieldCipher, items: Iterable[tuple[str, bytes]]) -> list[str]:
    """Many indicators' values, given as ``(stix_id, value_ct)``, in order.

    Each value has its own nonce and associated data, so each is one AES-GCM operation; what
    a batch saves is the per-value key-ring lookup (a ring is fetched once and refreshed only
    if a value is under a key this process has not loaded yet).
    """
    ring = cipher.source.current()
    out: list[str] = []
    for stix_id, blob in items:
        if aead.key_id_of(blob) not in ring.data_keys:
            ring = cipher.source.refresh()
        out.append(aead.decrypt(ring, blob, f"indicators.value:{stix_id}").decode())
    return out


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
