"""Per-object failures: each bad object fails with a reason, every valid one still lands."""

from __future__ import annotations

import copy

import pytest

from sharing.identifiers import ConsortiumKey
from sharing.models.indicators import Indicator
from tests.stix_factories import make_indicator, ts

GOOD = "good@evil.test"


def _bad_cases():
    base = make_indicator("bad@evil.test")
    value = base["pattern"].split("value = '")[1].rstrip("']")
    cases = {
        "unknown type": (
            {"type": "malware", "id": "malware--1", "spec_version": "2.1"},
            "is not accepted",
        ),
        "not an object": ("just a string", "is not a JSON object"),
        "other pattern": (dict(base, pattern="[ipv4-addr:value = '1.2.3.4']"), "invalid pattern"),
        "sigma": (dict(base, pattern_type="sigma"), "pattern_type must be 'stix'"),
        "bad hash": (
            dict(base, pattern=base["pattern"].replace(value, "md5:c1:abc")),
            "invalid pattern",
        ),
        "unknown key id": (
            make_indicator("k@evil.test", key=ConsortiumKey("c9", b"\x22" * 32)),
            "unknown consortium key id 'c9'",
        ),
        "future": (
            dict(base, created=ts(days=3), modified=ts(days=3), valid_from=ts(days=3)),
            "is in the future",
        ),
        "bad id": (dict(base, id="indicator--not-a-uuid"), "not valid STIX 2.1"),
        "valid_until before valid_from": (
            dict(base, valid_until=ts(days=-30)),
            "not valid STIX 2.1",
        ),
        "confidence": (dict(base, confidence=101), "must be an integer from 0 to 100"),
        "two TLPs": (
            dict(
                base,
                object_marking_refs=[
                    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
                    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
                ],
            ),
            "conflicting TLP markings",
        ),
        "modified before created": (
            dict(base, modified=ts(days=-9)),
            "'modified' is earlier than 'created'",
        ),
    }
    return cases


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_a_bad_object_fails_with_a_reason_and_the_valid_one_lands(exchange, case):
    bad, fragment = copy.deepcopy(_bad_cases()[case])
    member = exchange.member("lab-a")
    good = make_indicator(GOOD)
    report = exchange.submit(member, bad, good)
    assert [o.object_id for o in report.successes] == [good["id"]]
    (failure,) = report.failures
    assert fragment in failure.message, failure.message
    assert exchange.count(Indicator) == 1


def test_duplicate_ids_inside_one_bundle_fail_after_the_first(exchange):
    member = exchange.member("lab-a")
    first = make_indicator("one@evil.test")
    second = dict(make_indicator("two@evil.test"), id=first["id"])
    report = exchange.submit(member, first, second)
    assert [o.ok for o in report.outcomes] == [True, False]
    assert "objects[0] has the same id" in report.failures[0].message


def test_a_failure_names_the_object_by_id_or_position(exchange):
    member = exchange.member("lab-a")
    report = exchange.submit(member, make_indicator(GOOD), 42)
    detail = report.as_taxii()["failures"][0]
    assert detail["id"] == "objects[1]"
