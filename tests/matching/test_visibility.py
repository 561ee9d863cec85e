"""Match answers only ever come from reports the caller may see, and say nothing of the rest."""

from __future__ import annotations

from sharing.identifiers import hash_identifier
from sharing.sightings import SightingIn, report_sighting
from tests.matching.conftest import Exchange
from tests.stix_factories import TEST_CONSORTIUM_KEY, make_indicator, ts

EMAIL = "mallory@example.com"
ITEM = {"kind": "email", "value": hash_identifier(TEST_CONSORTIUM_KEY, "email", EMAIL)}


def test_tlp_red_in_a_group_the_caller_is_not_in_does_not_match(exchange: Exchange) -> None:
    alice, bob, eve = (exchange.member(n) for n in ("alice", "bob", "eve"))
    exchange.group("red-team", alice, bob)
    exchange.submit(alice, make_indicator(EMAIL, tlp="red", group="red-team"))

    assert exchange.ask(eve, ITEM)[0] == {
        "index": 0,
        "kind": "email",
        "matched": False,
        "matches": [],
    }
    [match] = exchange.ask(bob, ITEM)[0]["matches"]
    assert match["tlp"] == "red"


def test_counts_include_only_reports_the_caller_can_see(exchange: Exchange) -> None:
    alice, bob, carol, eve = (exchange.member(n) for n in ("alice", "bob", "carol", "eve"))
    exchange.group("inner", alice, carol)
    exchange.submit(alice, make_indicator(EMAIL, tlp="red", group="inner", confidence=90))
    exchange.submit(bob, make_indicator(EMAIL, tlp="green", confidence=30))

    [seen_by_eve] = exchange.ask(eve, ITEM)[0]["matches"]
    assert seen_by_eve["reporter_count"] == 1
    assert seen_by_eve["reporters"] == ["bob"]
    assert seen_by_eve["confidence"] == 30
    [seen_by_carol] = exchange.ask(carol, ITEM)[0]["matches"]
    assert seen_by_carol["reporter_count"] == 2
    assert seen_by_carol["tlp"] == "green"


def test_a_sharing_group_member_sees_a_group_report(exchange: Exchange) -> None:
    alice, bob, eve = (exchange.member(n) for n in ("alice", "bob", "eve"))
    exchange.group("labs", alice, bob)
    exchange.submit(alice, make_indicator(EMAIL, tlp="amber", group="labs"))
    assert exchange.ask(bob, ITEM)[0]["matched"] is True
    assert exchange.ask(eve, ITEM)[0]["matched"] is False


def test_an_anonymous_reporter_is_shown_as_a_member(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(EMAIL, anonymous=True))
    [match] = exchange.ask(bob, ITEM)[0]["matches"]
    assert match["reporters"] == ["a member"]
    assert match["reporter_count"] == 1
    [own] = exchange.ask(alice, ITEM)[0]["matches"]
    assert own["reporters"] == ["alice"]


def test_an_expired_indicator_stops_matching(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    created = ts(days=-3)
    exchange.submit(alice, make_indicator(EMAIL, modified=created, valid_until=ts(days=-1)))
    assert exchange.ask(bob, ITEM)[0]["matched"] is False


def test_a_revoked_indicator_stops_matching_as_soon_as_the_revocation_returns(
    exchange: Exchange,
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    original = make_indicator(EMAIL, modified=ts(days=-2))
    exchange.submit(alice, original)
    assert exchange.ask(bob, ITEM)[0]["matched"] is True
    revoked = dict(original, modified=ts(days=-1), revoked=True)
    exchange.submit(alice, revoked)
    assert exchange.ask(bob, ITEM)[0]["matched"] is False


def test_one_reporter_revoking_leaves_the_others_match(exchange: Exchange) -> None:
    alice, bob, carol = (exchange.member(n) for n in ("alice", "bob", "carol"))
    original = make_indicator(EMAIL, modified=ts(days=-2))
    exchange.submit(alice, original)
    exchange.submit(bob, make_indicator(EMAIL))
    exchange.submit(alice, dict(original, modified=ts(days=-1), revoked=True))
    [match] = exchange.ask(carol, ITEM)[0]["matches"]
    assert match["reporter_count"] == 1 and match["reporters"] == ["bob"]


def test_a_false_positive_marks_the_match_disputed_for_everyone(exchange: Exchange) -> None:
    alice, bob, carol = (exchange.member(n) for n in ("alice", "bob", "carol"))
    exchange.submit(alice, make_indicator(EMAIL, confidence=80))
    [before] = exchange.ask(carol, ITEM)[0]["matches"]
    assert before["disputed"] is False
    report_sighting(
        exchange.rt, bob.principal, SightingIn("false_positive", before["indicator_id"])
    )
    [after] = exchange.ask(carol, ITEM)[0]["matches"]
    assert after["disputed"] is True
    assert after["score"] < before["score"]
