"""Sightings and false positives: stored once per member, scored, and carried into the feed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sharing.errors import Forbidden, NotFound
from sharing.identifiers import hash_identifier
from sharing.models import ContextObject, FeedEntry, Indicator, Sighting
from sharing.sightings import SightingIn, org_identity_id, report_sighting
from tests.matching.conftest import Exchange, Member
from tests.stix_factories import TEST_CONSORTIUM_KEY, make_indicator

EMAIL = "mallory@example.com"
VALUE = hash_identifier(TEST_CONSORTIUM_KEY, "email", EMAIL)
ITEM = {"kind": "email", "value": VALUE}


def _stix_id(exchange: Exchange, member: Member) -> str:
    return exchange.ask(member, ITEM)[0]["matches"][0]["indicator_id"]


def _context(exchange: Exchange, stix_id: str) -> tuple[ContextObject, dict]:
    with exchange.rt.db.transaction() as session:
        row = session.scalar(select(ContextObject).where(ContextObject.stix_id == stix_id))
        assert row is not None
        body = json.loads(exchange.rt.cipher.decrypt(row.body_ct, f"context.body:{stix_id}"))
    return row, body


def test_a_sighting_raises_corroboration_and_refreshes_the_score(exchange: Exchange) -> None:
    alice, bob, carol = (exchange.member(n) for n in ("alice", "bob", "carol"))
    exchange.submit(alice, make_indicator(EMAIL, confidence=60))
    [before] = exchange.ask(carol, ITEM)[0]["matches"]

    answer = report_sighting(exchange.rt, bob.principal, SightingIn("seen", before["indicator_id"]))

    assert answer["sighting_count"] == 1 and answer["disputed"] is False
    [after] = exchange.ask(carol, ITEM)[0]["matches"]
    assert after["sighting_count"] == 1
    assert after["score"] > before["score"]
    assert after["last_seen"] > before["last_seen"]


def test_repeated_sightings_by_one_member_bump_a_count_not_the_score(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(EMAIL))
    stix_id = _stix_id(exchange, bob)
    first = report_sighting(exchange.rt, bob.principal, SightingIn("seen", stix_id, count=3))
    second = report_sighting(exchange.rt, bob.principal, SightingIn("seen", stix_id, count=4))
    assert first["id"] == second["id"] and second["sighting_count"] == 1
    with exchange.rt.db.transaction() as session:
        [row] = session.scalars(select(Sighting)).all()
        assert row.count == 7
    _, body = _context(exchange, second["id"])
    assert body["count"] == 7


def test_a_sighting_is_a_stix_sighting_in_the_feed_with_its_author(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(EMAIL))
    stix_id = _stix_id(exchange, bob)
    answer = report_sighting(exchange.rt, bob.principal, SightingIn("seen", stix_id))

    row, body = _context(exchange, answer["id"])
    assert row.stix_type == "sighting" and row.group_id is None and not row.anonymous
    assert body["type"] == "sighting" and body["sighting_of_ref"] == stix_id
    assert body["created_by_ref"] == org_identity_id(bob.org.id)
    assert body["count"] == 1
    with exchange.rt.db.transaction() as session:
        indicator_pk = session.scalar(select(Indicator.id).where(Indicator.stix_id == stix_id))
        feed = session.execute(
            select(FeedEntry.reason, FeedEntry.context_id, FeedEntry.indicator_id).order_by(
                FeedEntry.seq.desc()
            )
        ).all()[:2]
    assert ("sighting", None, indicator_pk) in feed
    assert ("new", row.id, None) in feed


def test_an_anonymous_false_positive_is_an_opinion_without_author(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(EMAIL))
    answer = report_sighting(
        exchange.rt,
        bob.principal,
        SightingIn("false_positive", indicator_kind="email", value=VALUE, anonymous=True),
    )
    assert answer["disputed"] is True
    row, body = _context(exchange, answer["id"])
    assert row.stix_type == "opinion" and row.anonymous
    assert body["opinion"] == "strongly-disagree"
    assert body["object_refs"] == [answer["indicator_id"]]
    assert "created_by_ref" not in body


def test_sighting_output_passes_the_stix_validator(exchange: Exchange) -> None:
    stix2validator = pytest.importorskip("stix2validator")
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(EMAIL))
    stix_id = _stix_id(exchange, bob)
    for kind in ("seen", "false_positive"):
        answer = report_sighting(exchange.rt, bob.principal, SightingIn(kind, stix_id))
        _, body = _context(exchange, answer["id"])
        options = stix2validator.ValidationOptions(strict=True, version="2.1")
        result = stix2validator.validate_instance(body, options)
        assert result.is_valid, [str(e) for e in result.errors]


def test_a_group_only_indicator_gets_a_group_only_sighting(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    [alice, bob] = exchange.group("labs", alice, bob)
    exchange.submit(alice, make_indicator(EMAIL, tlp="red", group="labs"))
    answer = report_sighting(
        exchange.rt, bob.principal, SightingIn("seen", _stix_id(exchange, bob))
    )
    row, _ = _context(exchange, answer["id"])
    assert row.group_id is not None and row.tlp == "red"


def test_an_indicator_the_caller_cannot_see_cannot_be_sighted(exchange: Exchange) -> None:
    alice, bob, eve = (exchange.member(n) for n in ("alice", "bob", "eve"))
    exchange.group("labs", alice, bob)
    exchange.submit(alice, make_indicator(EMAIL, tlp="red", group="labs"))
    with pytest.raises(NotFound) as invisible:
        report_sighting(
            exchange.rt, eve.principal, SightingIn("seen", indicator_kind="email", value=VALUE)
        )
    missing_value = hash_identifier(TEST_CONSORTIUM_KEY, "email", "nobody@example.com")
    with pytest.raises(NotFound) as missing:
        report_sighting(
            exchange.rt,
            eve.principal,
            SightingIn("seen", indicator_kind="email", value=missing_value),
        )
    assert invisible.value.message == missing.value.message


def test_a_match_only_key_cannot_report_sightings(exchange: Exchange) -> None:
    alice, reader = exchange.member("alice"), exchange.member("reader", scopes="match")
    exchange.submit(alice, make_indicator(EMAIL))
    with pytest.raises(Forbidden):
        report_sighting(
            exchange.rt, reader.principal, SightingIn("seen", indicator_kind="email", value=VALUE)
        )
