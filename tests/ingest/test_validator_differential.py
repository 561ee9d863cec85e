"""The fast validation path never disagrees with stix2.parse + stix2-patterns.

Hypothesis generates indicators of the shape DESIGN.md fixes, then breaks them in the ways a
member's tooling does (wrong types, bad ids and timestamps, odd markings, extra properties,
missing properties). Whenever the fast path says "valid", stix2 must accept the object; and the
overall verdict (fast path, falling back to stix2) always equals stix2's own.
"""

from __future__ import annotations

import copy
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharing.identifiers import TLP_MARKING_IDS
from sharing.ingest.validate import (
    FUTURE_SKEW,
    VALID,
    Rejected,
    check_indicator_fully,
    fast_indicator_verdict,
    one_pass_indicator,
    stix2_error,
    stix_error,
)
from sharing.models.base import utcnow
from tests.stix_factories import make_indicator

TIMESTAMPS = st.one_of(
    st.datetimes(
        min_value=__import__("datetime").datetime(1990, 1, 1),
        max_value=__import__("datetime").datetime(2030, 1, 1),
    ).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[: 20 + d.microsecond % 7] + "Z"),
    st.sampled_from(
        [
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01 00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.1234567Z",
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00Z\n",
            "2026-01-01T00:00:00.5Z\n",
            "0000-01-01T00:00:00Z",
            "",
            "yesterday",
        ]
    ),
    st.integers(),
)
IDS = st.one_of(
    st.uuids(version=4).map(lambda u: f"indicator--{u}"),
    st.uuids().map(lambda u: f"indicator--{u}"),
    st.uuids(version=4).map(lambda u: f"indicator--{str(u).upper()}"),
    st.uuids(version=4).map(lambda u: f"indicator--{u}\n"),
    st.uuids(version=4).map(lambda u: f"malware--{u}"),
    st.sampled_from(
        ["indicator--1", "indicator--", "", "indicator--zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz"]
    ),
)
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
MARKINGS = st.lists(
    st.one_of(
        st.sampled_from(sorted(TLP_MARKING_IDS.values())),
        st.uuids().map(lambda u: f"marking-definition--{u}"),
        st.uuids(version=4).map(lambda u: f"identity--{u}"),
        st.just("marking-definition--bad"),
        st.uuids(version=4).map(lambda u: f"marking-definition--{u}\n"),
    ),
    max_size=3,
)
PROPERTIES = [
    "type",
    "spec_version",
    "id",
    "created",
    "modified",
    "pattern",
    "pattern_type",
    "valid_from",
    "valid_until",
    "name",
    "description",
    "confidence",
    "revoked",
    "labels",
    "indicator_types",
    "object_marking_refs",
    "created_by_ref",
    "extensions",
    "lang",
    "pattern_version",
    "x_custom",
    "external_references",
]


@st.composite
def indicators(draw):
    obj = make_indicator(
        f"{draw(st.integers(0, 10**6))}@evil.test",
        confidence=draw(st.one_of(st.none(), st.integers(0, 100))),
        tlp=draw(st.one_of(st.none(), st.sampled_from(sorted(TLP_MARKING_IDS)))),
        group=draw(st.one_of(st.none(), st.just("circle"))),
        anonymous=draw(st.one_of(st.none(), st.booleans())),
        source_id=f"indicator--{uuid.uuid4()}",
    )
    for _ in range(draw(st.integers(0, 3))):
        prop = draw(st.sampled_from(PROPERTIES))
        action = draw(st.sampled_from(["delete", "value", "timestamp", "id", "markings"]))
        if action == "delete":
            obj.pop(prop, None)
        elif action == "timestamp" and prop in {"created", "modified", "valid_from", "valid_until"}:
            obj[prop] = draw(TIMESTAMPS)
        elif action == "id" and prop in {"id", "created_by_ref"}:
            obj[prop] = draw(IDS)
        elif action == "markings":
            obj["object_marking_refs"] = draw(MARKINGS)
        else:
            obj[prop] = draw(ANY_VALUE)
    return obj


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(indicators())
def test_the_fast_path_agrees_with_stix2_on_generated_indicators(obj):
    authoritative = stix2_error(copy.deepcopy(obj))
    if fast_indicator_verdict(obj) == VALID:
        assert authoritative is None, f"fast path accepted what stix2 rejects: {authoritative}"
    assert (stix_error(obj) is None) == (authoritative is None)


def test_the_fast_path_decides_the_common_shape_without_stix2():
    for tlp in (None, *TLP_MARKING_IDS):
        obj = make_indicator("common@evil.test", tlp=tlp, anonymous=True, group="circle")
        assert fast_indicator_verdict(obj) == VALID
        assert stix2_error(obj) is None
    assert fast_indicator_verdict(make_indicator("a prompt to copy", "prompt")) == VALID


@st.composite
def plain_indicators(draw):
    """As ``indicators()``, but most without extensions: the shape the one-pass path takes."""
    obj = draw(indicators())
    if draw(st.integers(0, 3)):
        obj.pop("extensions", None)
    if draw(st.booleans()):
        obj["labels"] = draw(st.lists(st.text(max_size=6), max_size=2))
    return obj


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_indicators())
def test_the_one_pass_path_builds_what_the_full_path_builds_or_leaves_it_alone(obj):
    now = utcnow()
    quick = one_pass_indicator(copy.deepcopy(obj), 7, now + FUTURE_SKEW)
    if quick is None:
        return
    try:
        full = check_indicator_fully(copy.deepcopy(obj), 7, now=now)
    except Rejected as exc:
        message = f"one pass accepted what the full path refuses: {exc.message}"
        raise AssertionError(message) from None
    assert quick == full


def test_the_one_pass_path_takes_the_common_shapes():
    now = utcnow()
    for tlp in (None, *TLP_MARKING_IDS):
        # (prompts carry a signature extension, which the full path reads)
        for kind, raw in (("email", "common@evil.test"), ("phone", "+14155550123")):
            obj = make_indicator(raw, kind, tlp=tlp, labels=["distillation"])
            quick = one_pass_indicator(obj, 0, now + FUTURE_SKEW)
            assert quick is not None, (tlp, kind)
            assert quick == check_indicator_fully(obj, 0, now=now)


def test_a_trailing_newline_in_an_id_or_timestamp_is_refused_like_stix2_does():
    for name, suffix in (("id", "\n"), ("created", "\n")):
        obj = make_indicator("newline@evil.test")
        obj[name] += suffix
        if name == "created":
            obj["modified"] = obj["valid_from"] = obj["created"]
        assert stix2_error(copy.deepcopy(obj)) is not None
        assert fast_indicator_verdict(obj) != VALID
        assert one_pass_indicator(obj, 0, utcnow() + FUTURE_SKEW) is None


# What the full path refuses: the one-pass path must give up on each (and so say nothing).
REFUSED = {
    "modified before created": {"modified": "2020-01-01T00:00:00Z"},
    "created in the future": {
        "created": "2099-01-01T00:00:00Z",
        "modified": "2099-01-01T00:00:00Z",
    },
    "valid_until not after valid_from": {"valid_until": "2020-01-01T00:00:00Z"},
    "confidence 101": {"confidence": 101},
    "confidence true": {"confidence": True},
    "revoked null": {"revoked": None},
    "name too long": {"name": "n" * 257},
    "conflicting TLP markings": {
        "object_marking_refs": [TLP_MARKING_IDS["green"], TLP_MARKING_IDS["red"]]
    },
    "pattern of an unknown kind": {
        "pattern": "[hashed-identifier:kind = 'fax' AND hashed-identifier:value = 'x']"
    },
    "pattern_type sigma": {"pattern_type": "sigma"},
    "spec_version 2.0": {"spec_version": "2.0"},
}
# What stix2 accepts in its own way (null as absent, a string as a one-item list...): the
# one-pass path may leave these to the full path, but must not build anything else.
LENIENT = {
    "confidence null": {"confidence": None},
    "name null": {"name": None},
    "description null": {"description": None},
    "labels empty": {"labels": []},
    "labels with an empty string": {"labels": [""]},
    "indicator_types not a list": {"indicator_types": "malicious-activity"},
}


@pytest.mark.parametrize("change", REFUSED.values(), ids=REFUSED.keys())
def test_the_one_pass_path_leaves_every_refused_edge_to_the_full_path(change):
    obj = {**make_indicator("edge@evil.test"), **change}
    now = utcnow()
    with pytest.raises(Rejected):
        check_indicator_fully(copy.deepcopy(obj), 0, now=now)
    assert one_pass_indicator(obj, 0, now + FUTURE_SKEW) is None


@pytest.mark.parametrize("change", LENIENT.values(), ids=LENIENT.keys())
def test_the_one_pass_path_builds_nothing_else_on_what_stix2_reads_leniently(change):
    obj = {**make_indicator("edge@evil.test"), **change}
    now = utcnow()
    quick = one_pass_indicator(copy.deepcopy(obj), 0, now + FUTURE_SKEW)
    assert quick is None or quick == check_indicator_fully(obj, 0, now=now)
