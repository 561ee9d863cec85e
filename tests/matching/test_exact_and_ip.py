"""Exact kinds by blind index and IP addresses by covering prefixes, most specific first."""

from __future__ import annotations

from sharing.identifiers import hash_identifier, hash_prefixes
from tests.matching.conftest import Exchange
from tests.stix_factories import (
    TEST_CONSORTIUM_KEY,
    make_campaign,
    make_indicator,
    make_relationship,
)

K = TEST_CONSORTIUM_KEY


def h(kind: str, raw: str) -> str:
    return hash_identifier(K, kind, raw)


def test_a_reported_email_matches_with_its_corroboration(exchange: Exchange) -> None:
    alice, bob, carol = (exchange.member(n) for n in ("alice", "bob", "carol"))
    first = make_indicator("Mallory+x@Example.com", confidence=60, tlp="green")
    campaign = make_campaign("Operation Mirror")
    exchange.submit(alice, first, campaign, make_relationship(first["id"], campaign["id"]))
    exchange.submit(bob, make_indicator("mallory@example.com", confidence=80, tlp="clear"))

    [result] = exchange.ask(carol, {"kind": "email", "value": h("email", "mallory@example.com")})

    assert result["matched"] is True and result["index"] == 0
    [match] = result["matches"]
    assert match["indicator_id"].startswith("indicator--")
    assert match["kind"] == "email"
    assert match["similarity"] == 1.0
    assert match["reporter_count"] == 2
    assert match["reporters"] == ["alice", "bob"]
    assert match["confidence"] == 70
    assert match["tlp"] == "clear"
    assert match["campaigns"] == ["Operation Mirror"]
    assert match["disputed"] is False
    assert 0 < match["score"] <= 100
    assert match["first_seen"] <= match["last_seen"]


def test_a_hash_nobody_reported_does_not_match(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator("mallory@example.com"))
    [result] = exchange.ask(bob, {"kind": "email", "value": h("email", "someone@else.org")})
    assert result == {"index": 0, "kind": "email", "matched": False, "matches": []}


def test_the_same_hash_under_another_kind_does_not_match(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    indicator = make_indicator("acct_123", "payment")
    exchange.submit(alice, indicator)
    value = h("payment", "acct_123")
    device, payment = exchange.ask(
        bob, {"kind": "device", "value": value}, {"kind": "payment", "value": value}
    )
    assert device["matched"] is False
    assert payment["matched"] is True


def test_a_batch_answers_one_result_per_item_in_order(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(
        alice, make_indicator("+1 415 555 0100", "phone"), make_indicator("tg:evil", "handle")
    )
    items = [
        {"kind": "handle", "value": h("handle", "tg:evil")},
        {"kind": "email", "value": h("email", "nobody@example.com")},
        {"kind": "phone", "value": h("phone", "+14155550100")},
    ] * 50
    results = exchange.ask(bob, *items)
    assert [r["index"] for r in results] == list(range(150))
    assert [r["matched"] for r in results[:3]] == [True, False, True]
    assert sum(r["matched"] for r in results) == 100


def test_an_indicator_is_matchable_as_soon_as_its_submission_returns(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    item = {"kind": "device", "value": h("device", "fp-fresh-1")}
    assert exchange.ask(bob, item)[0]["matched"] is False
    exchange.submit(alice, make_indicator("fp-fresh-1", "device"))
    assert exchange.ask(bob, item)[0]["matched"] is True


def test_an_ipv4_address_inside_nested_reported_ranges_matches_most_specific_first(
    exchange: Exchange,
) -> None:
    alice, bob, carol = (exchange.member(n) for n in ("alice", "bob", "carol"))
    exchange.submit(alice, make_indicator("45.83.0.0/16", "ip"))
    exchange.submit(bob, make_indicator("45.83.64.0/24", "ip"))
    [result] = exchange.ask(carol, {"kind": "ip", "prefixes": hash_prefixes(K, "45.83.64.77")})
    assert result["matched"] is True
    ranks = [m["prefix_index"] for m in result["matches"]]
    assert ranks == [32 - 24, 32 - 16]  # /24 is 8 steps below /32, /16 is 16 steps
    assert [m["reporters"] for m in result["matches"]] == [["bob"], ["alice"]]


def test_an_ipv4_address_outside_every_reported_range_does_not_match(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator("45.83.64.0/24", "ip"))
    [result] = exchange.ask(bob, {"kind": "ip", "prefixes": hash_prefixes(K, "45.83.65.1")})
    assert result["matched"] is False


def test_an_ipv6_address_inside_nested_reported_ranges_matches_most_specific_first(
    exchange: Exchange,
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(
        alice,
        make_indicator("2a05:d014::/32", "ip"),
        make_indicator("2a05:d014:aa00::/40", "ip"),
        make_indicator("2a05:d014:aa00:17::5", "ip"),
    )
    address = "2a05:d014:aa00:17::5"
    [result] = exchange.ask(bob, {"kind": "ip", "prefixes": hash_prefixes(K, address)})
    assert [m["prefix_index"] for m in result["matches"]] == [0, (128 - 40) // 4, (128 - 32) // 4]
    [other] = exchange.ask(bob, {"kind": "ip", "prefixes": hash_prefixes(K, "2a05:d015::1")})
    assert other["matched"] is False


def test_an_exact_ip_value_matches_without_prefix_expansion(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator("81.2.69.160", "ip"))
    [result] = exchange.ask(bob, {"kind": "ip", "value": h("ip", "81.2.69.160")})
    assert result["matched"] is True and result["matches"][0]["prefix_index"] == 0
