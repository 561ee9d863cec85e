"""One canonical indicator per value; each member's submission is a report on it."""

from __future__ import annotations

import gc
import sys

from sqlalchemy import select

from sharing.ingest import service
from sharing.models.indicators import Indicator, Report
from tests.stix_factories import (
    body,
    make_bundle,
    make_campaign,
    make_indicator,
    make_relationship,
    ts,
)


def test_three_members_reporting_overlapping_values_make_one_indicator_per_value(exchange):
    a, b, c = exchange.member("lab-a"), exchange.member("lab-b"), exchange.member("lab-c")
    exchange.submit(a, make_indicator("x@evil.test"), make_indicator("y@evil.test"))
    exchange.submit(b, make_indicator("X@Evil.test"), make_indicator("z@evil.test"))
    exchange.submit(c, make_indicator("x@evil.test"))
    assert exchange.count(Indicator) == 3
    assert exchange.count(Report) == 5
    counts = sorted(s.reporter_count for s in exchange.view(a).values())
    assert counts == [1, 1, 3]


def test_equivalent_raw_values_dedupe_because_members_normalise_before_hashing(exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    exchange.submit(a, make_indicator("john.doe+promo@gmail.com"))
    exchange.submit(b, make_indicator("JohnDoe@googlemail.com"))
    (summary,) = exchange.view(a).values()
    assert summary.reporter_count == 2


def test_resubmitting_the_same_bundle_changes_nothing(exchange):
    a = exchange.member("lab-a")
    objects = [make_indicator(f"u{i}@evil.test") for i in range(5)]
    first = exchange.submit(a, *objects)
    second = exchange.submit(a, *objects)
    assert first.as_taxii()["success_count"] == second.as_taxii()["success_count"] == 5
    assert {o.message for o in second.successes} == {"unchanged: this version is already stored"}
    assert exchange.count(Indicator) == 5 and exchange.count(Report) == 5


def test_a_newer_modified_updates_the_members_report(exchange):
    a = exchange.member("lab-a")
    original = make_indicator("v@evil.test", confidence=40, modified=ts(days=-3))
    exchange.submit(a, original)
    newer = dict(original, modified=ts(days=-1), confidence=90)
    (outcome,) = exchange.submit(a, newer).outcomes
    assert outcome.ok and outcome.message == "updated"
    (summary,) = exchange.view(a).values()
    assert summary.confidence == 90 and exchange.count(Report) == 1


def test_an_older_modified_is_ignored_with_a_reason(exchange):
    a = exchange.member("lab-a")
    current = make_indicator("w@evil.test", confidence=80, modified=ts(days=-1))
    exchange.submit(a, current)
    five_days_ago = ts(days=-5)  # one instant: modified must not come out before created
    older = dict(current, modified=five_days_ago, created=five_days_ago, confidence=10)
    (outcome,) = exchange.submit(a, older).outcomes
    assert outcome.ok and outcome.message.startswith("ignored: a newer version")
    (summary,) = exchange.view(a).values()
    assert summary.confidence == 80


def test_revoking_withdraws_only_that_members_report(exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    mine = make_indicator("r@evil.test", modified=ts(days=-2))
    exchange.submit(a, mine)
    exchange.submit(b, make_indicator("r@evil.test"))
    (outcome,) = exchange.submit(a, dict(mine, modified=ts(days=-1), revoked=True)).outcomes
    assert outcome.message == "withdrawn (revoked)"
    (summary,) = exchange.view(b).values()
    assert summary.reporter_count == 1 and summary.matchable


def test_an_indicator_whose_only_report_is_revoked_stops_matching(exchange):
    a = exchange.member("lab-a")
    mine = make_indicator("gone@evil.test", modified=ts(days=-2))
    exchange.submit(a, mine)
    exchange.submit(a, dict(mine, modified=ts(days=-1), revoked=True))
    (summary,) = exchange.view(a).values()
    assert not summary.matchable and summary.revoked and summary.score == 0


def test_an_expired_report_stops_counting(exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    exchange.submit(a, make_indicator("e@evil.test", valid_until=ts(days=30)))
    exchange.submit(
        b,
        make_indicator("e@evil.test", modified=ts(days=-10), valid_until=ts(days=-1)),
    )
    (summary,) = exchange.view(a).values()
    assert summary.reporter_count == 1


def test_a_relationship_to_a_campaign_is_repointed_to_the_canonical_indicator(exchange):
    a = exchange.member("lab-a")
    indicator = make_indicator("c@evil.test")
    campaign = make_campaign("Operation Mirror")
    relationship = make_relationship(indicator["id"], campaign["id"])
    report = exchange.submit(a, indicator, campaign, relationship)
    assert report.as_taxii()["success_count"] == 3
    (summary,) = exchange.view(a).values()
    assert summary.campaigns == ["Operation Mirror"]
    assert summary.stix_id != indicator["id"]


def test_a_relationship_to_an_indicator_never_accepted_fails_alone(exchange):
    a = exchange.member("lab-a")
    campaign = make_campaign()
    dangling = make_relationship("indicator--0b8a6f0e-5b7e-4c1e-9f2a-3c4d5e6f7a8b", campaign["id"])
    report = exchange.submit(a, campaign, dangling)
    failures = report.failures
    assert [f.object_id for f in failures] == [dangling["id"]]
    assert "not an indicator you have submitted" in failures[0].message


def test_a_bundles_new_rows_enter_each_unique_index_as_one_ascending_run(exchange):
    # Ingest speed at millions of rows rests on this: ids follow the order of the unique
    # indexes, so a bundle enters each as one sorted run instead of at random places
    # (sharing.ingest.prepare, BundleWriter._report_rows). Source ids come out of order.
    a = exchange.member("lab-a")
    objects = [make_indicator(f"run{i}@evil.test") for i in range(40)]
    objects.sort(key=lambda o: o["id"], reverse=True)
    exchange.submit(a, *objects)
    indicators = exchange.session.execute(
        select(Indicator.blind_index, Indicator.stix_id).order_by(Indicator.id)
    ).all()
    assert len(indicators) == 40
    assert [row.blind_index for row in indicators] == sorted(row.blind_index for row in indicators)
    assert [row.stix_id for row in indicators] == sorted(row.stix_id for row in indicators)
    source_ids = exchange.session.scalars(select(Report.source_id).order_by(Report.id)).all()
    assert source_ids == sorted(o["id"] for o in objects)


def test_a_large_bundle_is_processed_without_a_cyclic_collection(exchange):
    # ~2,000 objects allocate far past the collector's first threshold (700); its objects are
    # freed by reference counting, so a collection would only walk them (sharing.collector).
    # The collection they made due runs once the bundle is done, outside its processing.
    a = exchange.member("lab-a")
    raw = body(make_bundle(*[make_indicator(f"gc{i}@evil.test") for i in range(2_000)]))
    during: list[int] = []
    after: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase != "start":
            return
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not service._submit.__code__:
            frame = frame.f_back
        (during if frame is not None else after).append(info["generation"])

    was_enabled = gc.isenabled()
    gc.enable()
    gc.collect()  # not the collection building the bundle made due
    gc.callbacks.append(count)
    try:
        report = service.submit_bundle(exchange.rt, a.principal, raw)
        enabled_after = gc.isenabled()
    finally:
        gc.callbacks.remove(count)
        (gc.enable if was_enabled else gc.disable)()
    assert len(report.successes) == 2_000
    assert during == []
    assert after and enabled_after
