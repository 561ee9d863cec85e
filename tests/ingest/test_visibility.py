"""Markings, sharing groups and anonymity decide what each member sees."""

from __future__ import annotations

from tests.stix_factories import make_indicator


def test_a_tlp_red_report_is_visible_only_inside_its_sharing_group(exchange):
    a, b, c = exchange.member("lab-a"), exchange.member("lab-b"), exchange.member("lab-c")
    exchange.group("inner-circle", a, b)
    a, b = exchange.refresh(a), exchange.refresh(b)
    report = exchange.submit(a, make_indicator("red@evil.test", tlp="red", group="inner-circle"))
    assert report.as_taxii()["success_count"] == 1
    assert len(exchange.view(a)) == 1
    assert len(exchange.view(b)) == 1
    assert exchange.view(c) == {}


def test_an_invisible_report_is_not_counted_for_outsiders(exchange):
    a, b, c = exchange.member("lab-a"), exchange.member("lab-b"), exchange.member("lab-c")
    exchange.group("inner-circle", a, b)
    a, b = exchange.refresh(a), exchange.refresh(b)
    exchange.submit(a, make_indicator("both@evil.test", tlp="red", group="inner-circle"))
    exchange.submit(c, make_indicator("both@evil.test", tlp="green"))
    (outsider,) = exchange.view(c).values()
    (insider,) = exchange.view(b).values()
    assert outsider.reporter_count == 1 and outsider.tlp == "green"
    assert insider.reporter_count == 2


def test_tlp_red_without_a_sharing_group_is_refused(exchange):
    a = exchange.member("lab-a")
    (outcome,) = exchange.submit(a, make_indicator("r@evil.test", tlp="red")).outcomes
    assert not outcome.ok and "TLP:RED needs a sharing group" in outcome.message


def test_a_member_cannot_submit_into_a_group_it_does_not_belong_to(exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    exchange.group("others", b)
    for group in ("others", "no-such-group"):
        (outcome,) = exchange.submit(a, make_indicator("g@evil.test", group=group)).outcomes
        assert not outcome.ok
        assert outcome.message == f"you are not a member of a sharing group named {group!r}"


def test_a_missing_marking_defaults_to_amber(exchange):
    a = exchange.member("lab-a")
    exchange.submit(a, make_indicator("m@evil.test"))
    (summary,) = exchange.view(a).values()
    assert summary.tlp == "amber"


def test_anonymous_reports_show_a_member_to_others_but_the_owner_sees_itself(exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    exchange.submit(a, make_indicator("anon@evil.test", anonymous=True))
    (other,) = exchange.view(b).values()
    (own,) = exchange.view(a).values()
    assert other.reporters == ["a member"]
    assert own.reporters == ["lab-a"]


def test_named_reports_show_the_reporting_lab(exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    exchange.submit(a, make_indicator("named@evil.test"))
    (other,) = exchange.view(b).values()
    assert other.reporters == ["lab-a"]


def test_moving_a_report_into_a_group_tells_both_old_and_new_audiences(exchange):
    from sqlalchemy import select

    from sharing.models.feed import FeedEntry
    from tests.stix_factories import ts

    a = exchange.member("lab-a")
    exchange.group("inner-circle", a)
    a = exchange.refresh(a)
    public = make_indicator("moved@evil.test", modified=ts(days=-2))
    exchange.submit(a, public)
    exchange.submit(
        a,
        dict(
            public,
            modified=ts(days=-1),
            extensions={
                **public.get("extensions", {}),
                "extension-definition--f0a96e34-acfe-49d7-b749-2829ecc56ec1": {
                    "extension_type": "property-extension",
                    "sharing_group": "inner-circle",
                },
            },
        ),
    )
    last = exchange.session.execute(
        select(FeedEntry.public, FeedEntry.group_id, FeedEntry.reason)
        .order_by(FeedEntry.seq.desc())
        .limit(2)
    ).all()
    assert {(row.public, row.group_id is None, row.reason) for row in last} == {
        (True, True, "update"),
        (False, False, "update"),
    }
