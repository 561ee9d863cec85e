"""Summary facts (computed in one pass, with a one-report fast path) equal their definitions.

Feeds read every summary property of a thousand indicators a page, so
``sharing.corroboration`` computes them together; this checks the result against the plain
definitions (docs/SCORING.md) for arbitrary visible reports, sightings and disputes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.corroboration import (
    DECAY_SPEED,
    DEFAULT_CONFIDENCE,
    LIFETIME,
    TLP_ORDER,
    ReportView,
    Summary,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
times = st.integers(min_value=-400, max_value=30).map(lambda d: NOW + timedelta(days=d))

reports = st.builds(
    ReportView,
    report_id=st.integers(1, 10**6),
    reporter=st.sampled_from(["a member", "lab-a", "lab-b", "lab-c"]),
    reporter_key=st.sampled_from([b"a" * 16, b"b" * 16, b"c" * 16]),
    own=st.booleans(),
    confidence=st.none() | st.integers(0, 100),
    tlp=st.sampled_from(TLP_ORDER),
    group_id=st.none() | st.integers(1, 3),
    valid_from=times,
    valid_until=st.none() | times,
    revoked=st.booleans(),
    active=st.booleans(),
    created_at=times,
    updated_at=times,
)


def expected(s: Summary) -> dict[str, object]:
    active = [r for r in s.reports if r.active]
    basis = active or s.reports
    last = [r.updated_at for r in s.reports] + ([s.last_sighted] if s.last_sighted else [])
    last_seen = max(last)
    values = [r.confidence for r in active if r.confidence is not None]
    confidence = round(sum(values) / len(values)) if values else DEFAULT_CONFIDENCE
    reporter_count = len({r.reporter_key for r in active})
    score = 0
    if active:
        base = min(100, confidence + 10 * (reporter_count - 1) + 5 * s.sighting_count)
        age = max(timedelta(0), NOW - last_seen)
        remaining = base * max(0.0, 1 - (age / LIFETIME) ** (1 / DECAY_SPEED))
        score = round(remaining / 2 if s.disputed else remaining)
    untils = [r.valid_until for r in basis]
    return {
        "active_reports": active,
        "matchable": bool(active),
        "revoked": not active,
        "reporter_count": reporter_count,
        "first_seen": min(r.created_at for r in s.reports),
        "last_seen": last_seen,
        "confidence": confidence,
        "tlp": min((r.tlp for r in basis), key=TLP_ORDER.index),
        "valid_from": min(r.valid_from for r in basis),
        "valid_until": None if None in untils else max(u for u in untils if u is not None),
        "score": score,
        "reporters": sorted({r.reporter for r in active}),
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(reports, min_size=1, max_size=5),
    st.integers(0, 4),
    st.none() | times,
    st.booleans(),
)
def test_facts_match_their_definitions(
    found: list[ReportView], sightings: int, last_sighted: datetime | None, disputed: bool
) -> None:
    summary = Summary(1, "indicator--x", "email", reports=found, now=NOW)
    summary.sighting_count = sightings
    summary.last_sighted = last_sighted
    summary.disputed = disputed
    assert {name: getattr(summary, name) for name in expected(summary)} == expected(summary)


def test_facts_follow_later_changes() -> None:
    report = ReportView(
        1,
        "lab-a",
        b"a" * 16,
        False,
        80,
        "green",
        None,
        NOW,
        None,
        False,
        True,
        NOW - timedelta(days=1),
        NOW - timedelta(days=1),
    )
    summary = Summary(1, "indicator--x", "email", reports=[report], now=NOW)
    assert summary.confidence == 80 and summary.reporter_count == 1
    summary.reports.append(
        ReportView(
            2, "lab-b", b"b" * 16, False, 40, "clear", None, NOW, None, False, True, NOW, NOW
        )
    )
    summary.sighting_count, summary.last_sighted = 1, NOW
    assert (summary.confidence, summary.reporter_count, summary.tlp) == (60, 2, "clear")
    assert summary.last_seen == NOW and summary.score == min(100, 60 + 10 + 5)
