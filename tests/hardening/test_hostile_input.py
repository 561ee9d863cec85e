"""Hostile input: generated requests against our own OpenAPI document, fuzzed parsers and
normalisers, and hand-made nasty bodies, headers and paths. Every case must end in a clear 4xx
(never a 5xx), store nothing, and leave the service answering.

CI runs bounded example counts (``FUZZ_EXAMPLES``, default 25 per operation / 150 per parser);
the long run is ``PALISADE_FUZZ_EXAMPLES=2000 pytest -m slow`` on this file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sharing.errors import InvalidInput, PayloadTooLarge
from sharing.identifiers import normalise
from sharing.ingest.bundle import parse_bundle
from sharing.ingest.validate import Rejected, check_object
from sharing.models import ContextObject, Indicator, Report, Submission
from sharing.models.base import utcnow

FUZZ_EXAMPLES = int(os.environ.get("PALISADE_FUZZ_EXAMPLES", "25"))
PARSER_EXAMPLES = int(os.environ.get("PALISADE_FUZZ_EXAMPLES", "150"))
STIX = "application/stix+json"
FUZZ = settings(
    max_examples=PARSER_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _stored(db: Any) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Indicator, Report, Submission, ContextObject)
        )


# ---- schemathesis against /api/v1/openapi.json ----------------------------------------


def _schemathesis_run(app: Flask, headers: dict[str, str], examples: int) -> list[str]:
    import schemathesis
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    problems: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code < 400:
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )

        try:
            run()
        except AssertionError as exc:
            problems.append(f"{operation.method.upper()} {operation.path}: {exc}"[:800])
        except Exception as exc:  # schemathesis failure groups
            problems.append(f"{operation.method.upper()} {operation.path}: {exc}"[:800])
    return problems


def test_schemathesis_finds_no_server_error_and_no_schema_drift(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-fuzz")
    problems = _schemathesis_run(app, lab.headers, FUZZ_EXAMPLES)
    assert not problems, "\n\n".join(problems)
    assert app.test_client().get("/healthz").status_code == 200


@pytest.mark.slow
def test_schemathesis_long(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-fuzz")
    problems = _schemathesis_run(app, lab.headers, max(FUZZ_EXAMPLES, 500))
    assert not problems, "\n\n".join(problems)


# ---- parsers and normalisers: only documented exceptions ------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_parse_bundle_raw_bytes(raw: bytes) -> None:
    with contextlib.suppress(InvalidInput, PayloadTooLarge):
        parse_bundle(raw, max_objects=100)


@FUZZ
@given(value=json_values)
def test_parse_bundle_any_json(value: Any) -> None:
    with contextlib.suppress(InvalidInput, PayloadTooLarge):
        parse_bundle(json.dumps(value).encode(), max_objects=100)


indicator_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["indicator", "campaign", "relationship", "note", "x-evil", ""])},
    optional={
        "spec_version": st.sampled_from(["2.1", "2.0", "", "9"]),
        "id": st.one_of(
            st.text(max_size=60), st.uuids().map(lambda u: f"indicator--{u}"), st.integers()
        ),
        "created": st.one_of(st.text(max_size=30), st.just("2024-01-01T00:00:00.000Z")),
        "modified": st.one_of(st.text(max_size=30), st.just("2024-01-01T00:00:00.000Z")),
        "pattern": st.one_of(
            st.text(max_size=120),
            st.builds(
                lambda k, v: (
                    f"[hashed-identifier:kind = '{k}' AND hashed-identifier:value = '{v}']"
                ),
                st.text(max_size=10),
                st.text(max_size=90),
            ),
        ),
        "pattern_type": st.sampled_from(["stix", "sigma", "", "STIX"]),
        "valid_from": st.text(max_size=30),
        "confidence": json_values,
        "object_marking_refs": json_values,
        "extensions": json_values,
        "revoked": json_values,
        "name": json_values,
    },
)


@FUZZ
@given(obj=st.one_of(json_values, indicator_like))
def test_check_object_raises_only_rejected(obj: Any) -> None:
    with contextlib.suppress(Rejected):
        check_object(obj, 0, now=utcnow())


@FUZZ
@given(
    kind=st.sampled_from(["email", "phone", "payment", "handle", "device", "ip", "prompt"]),
    raw=st.text(max_size=200),
)
def test_normalisers_raise_only_value_errors(kind: str, raw: str) -> None:
    try:
        result = normalise(kind, raw)
    except ValueError:  # documented: NormalisationError is a ValueError
        return
    assert isinstance(result, str)
    assert normalise(kind, result) == result  # idempotent


# ---- hand-made hostile bodies over HTTP ------------------------------------------------

BID = b'"id":"bundle--6f1d1c1e-0000-4000-8000-000000000000"'
NESTED = (
    b'{"type":"bundle","id":"bundle--6f1d1c1e-0000-4000-8000-000000000000","objects":['
    + b"[" * 100_000
    + b"]" * 100_000
    + b"]}"
)
HOSTILE_BODIES: dict[str, bytes] = {
    "empty": b"",
    "not json": b"<xml/>",
    "truncated": b'{"type":"bundle","id":"bundle--',
    "deeply nested": NESTED,
    "duplicate key": b'{"type":"bundle","type":"bundle",' + BID + b',"objects":[]}',
    "latin-1": '{"type":"bundle","id":"bundle--x","objects":[{"name":"caf\u00e9"}]}'.encode(
        "latin-1"
    ),
    "utf-16": '{"type":"bundle"}'.encode("utf-16"),
    "lone surrogate": b'{"type":"bundle","id":"\xed\xa0\x80"}',
    "NaN": b'{"type":"bundle","id":"bundle--6f1d1c1e-0000-4000-8000-000000000000","objects":[NaN]}',
    "huge number": b'{"type":"bundle",' + BID + b',"objects":[' + b"9" * 5000 + b"]}",
    "array": b"[]",
    "string": b'"bundle"',
    "wrong type": b'{"type":"indicator","id":"bundle--6f1d1c1e-0000-4000-8000-000000000000"}',
    "nul bytes": b'{"type":"bundle\x00","id":"bundle--6f1d1c1e-0000-4000-8000-000000000000"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bundle_bodies_are_clear_400s_and_store_nothing(
    app: Flask, exchange, name: str
) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-a")
    client = app.test_client()
    before = _stored(exchange.db)
    response = client.post(
        "/api/v1/bundles",
        data=HOSTILE_BODIES[name],
        headers={**lab.headers, "Content-Type": STIX},
    )
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.get_json()["message"]
    assert _stored(exchange.db) == before
    assert client.get("/healthz").status_code == 200


def test_an_oversized_body_is_413_and_stores_nothing(
    make_app: Callable[..., Flask], exchange
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(max_content_length=64 * 1024)
    lab = exchange.member("lab-a")
    client = app.test_client()
    before = _stored(exchange.db)
    big = (
        b'{"type":"bundle","id":"bundle--6f1d1c1e-0000-4000-8000-000000000000","objects":['
        + b'{"a":1},' * 20_000
        + b'{"a":1}]}'
    )
    response = client.post(
        "/api/v1/bundles", data=big, headers={**lab.headers, "Content-Type": STIX}
    )
    assert response.status_code == 413
    assert "limit" in response.get_json()["message"]
    assert _stored(exchange.db) == before
    for path in ("/api/v1/match",):
        answer = client.post(
            path, data=big, headers={**lab.headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_too_many_objects_is_413(make_app: Callable[..., Flask], exchange) -> None:  # type: ignore[no-untyped-def]
    app = make_app(max_objects_per_bundle=3)
    lab = exchange.member("lab-a")
    objects = ",".join(['{"type":"note"}'] * 4)
    raw = (
        '{"type":"bundle","id":"bundle--6f1d1c1e-0000-4000-8000-000000000000","objects":['
        + objects
        + "]}"
    ).encode()
    response = app.test_client().post(
        "/api/v1/bundles", data=raw, headers={**lab.headers, "Content-Type": STIX}
    )
    assert response.status_code == 413


MATCH_BODIES: dict[str, Any] = {
    "not a list": {"items": "x"},
    "bad kind": {"items": [{"kind": "dna", "value": "x"}]},
    "wrong hash": {"items": [{"kind": "email", "value": "md5:abc"}]},
    "too many prefixes": {"items": [{"kind": "ip", "prefixes": ["x"] * 100_000}]},
    "similarity out of range": {"items": [], "min_similarity": 7},
    "nested junk": {"items": [{"kind": {"$ne": 1}, "value": ["a"]}]},
    "NUL in value": {"items": [{"kind": "email", "value": "hmac-sha256:c1:\u0000"}]},
}


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "seen", "indicator_id": "indicator--\u0000"},
        {"type": "seen", "kind": "email", "value": "hmac-sha256:c1:" + "0" * 63 + "\u0000"},
        {"type": "seen\u0000", "indicator_id": "x"},
    ],
)
def test_nul_in_sighting_bodies_is_a_4xx(app: Flask, exchange, payload: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    lab = exchange.member("lab-a")
    response = app.test_client().post("/api/v1/sightings", json=payload, headers=lab.headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("name", sorted(MATCH_BODIES))
def test_hostile_match_bodies_are_400s(app: Flask, exchange, name: str) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-a")
    response = app.test_client().post("/api/v1/match", json=MATCH_BODIES[name], headers=lab.headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/status/../../x",
        "/api/v1/status/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/status/..%2f..%2fetc%2fpasswd",
        "/api/v1/status/%00",
        "/api/v1/status/" + "a" * 5000,
        "/api/v1/range/..%2f",
        "/api/v1/range/%2e%2e",
        "/taxii2/exchange/collections/..%2f..%2f/objects/",
        "/taxii2/exchange/collections/%2e%2e/objects/",
        "/taxii2/exchange/status/%2e%2e%2f%2e%2e/",
        "/static/../../sharing/config.py",
        "/static/%2e%2e/%2e%2e/sharing/config.py",
        "/api/v1/range/%00abcd",
        "/taxii2/exchange/collections/all%00/objects/?match[id]=%00",
    ],
)
def test_path_traversal_in_ids_is_a_4xx(app: Flask, exchange, path: str) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-a")
    response = app.test_client().get(
        path, headers={**lab.headers, "Accept": "application/taxii+json;version=2.1"}
    )
    assert 400 <= response.status_code < 500, (path, response.status_code)
    text = response.get_data(as_text=True)
    assert "Settings" not in text and "root:" not in text


@pytest.mark.parametrize(
    "path", ["/healthz", "/api/v1/whoami", "/taxii2/exchange/collections/", "/portal/login"]
)
def test_a_query_string_that_is_not_utf8_is_a_400(app: Flask, exchange, path: str) -> None:  # type: ignore[no-untyped-def]
    # Raw bytes in the request line, as a WSGI server that does not refuse them passes them on
    # (latin-1 decoded, per PEP 3333); gunicorn itself answers 400 before the app runs.
    lab = exchange.member("lab-a")
    response = app.test_client().get(
        path,
        headers={**lab.headers, "Accept": "application/taxii+json;version=2.1"},
        environ_overrides={"QUERY_STRING": "added_after=\xff\xfe"},
    )
    assert response.status_code == 400
    assert "not valid UTF-8" in response.get_data(as_text=True)


def test_header_injection_is_refused_or_neutralised(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-a")
    client = app.test_client()
    # Werkzeug's client refuses CRLF in header values itself; send what a raw client could.
    for value in ("x\r\nSet-Cookie: a=b", "x\nX-Evil: 1"):
        try:
            response = client.get("/api/v1/whoami", headers={**lab.headers, "X-Request-ID": value})
        except ValueError:
            continue
        assert "X-Evil" not in response.headers and "Set-Cookie" not in response.headers
        assert "\n" not in response.headers["X-Request-ID"]
    odd_auth = [
        "Bearer " + "A" * 10_000,
        "Bearer pal_\x00\x01_x",
        "Basic " + "=" * 50,
        "Negotiate abc",
        "Bearer",
        "Bearer  pal_AAAAAAAAAA_x  ",
    ]
    for value in odd_auth:
        response = client.get("/api/v1/whoami", headers={"Authorization": value})
        assert response.status_code == 401, value


def test_hostile_input_over_raw_http(live) -> None:  # type: ignore[no-untyped-def]
    """What a test client cannot send: CRLF and raw bytes in headers and the request line."""
    import socket
    from urllib.parse import urlparse

    key = live.member("lab-raw")
    host, port = urlparse(live.url).hostname, urlparse(live.url).port
    requests_raw = [
        b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rb\r\nAuthorization: Bearer "
        + key.encode()
        + b"\r\nConnection: close\r\n\r\n",
        b"GET /api/v1/status/..%2F..%2F HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\nX-Request-ID: \xff\xfe\r\n"
        b"Connection: close\r\n\r\n",
        b"POST /api/v1/bundles HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Content-Type: application/stix+json\r\nAuthorization: Bearer "
        + key.encode()
        + b'\r\nConnection: close\r\n\r\n{"\xff',
    ]
    for raw in requests_raw:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(raw)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status_line = answer.split(b"\r\n", 1)[0]
        status = int(status_line.split()[1])
        assert 200 <= status < 500, (raw[:60], status_line)
        assert b"\r\nX-Evil" not in answer and b"Set-Cookie" not in answer
    import requests

    assert requests.get(live.url + "/healthz", timeout=5).status_code == 200


# ---- found by coverage-guided fuzzing (tests/fuzz/) -------------------------------------


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("indicator", "id"),
        ("indicator", "spec_version"),
        ("indicator", "created"),
        ("indicator", "modified"),
        ("campaign", "id"),
        ("campaign", "spec_version"),
        ("campaign", "created"),
    ],
)
def test_objects_must_state_what_stix2_would_invent(
    app: Flask, exchange, kind: str, missing: str
) -> None:  # type: ignore[no-untyped-def]
    """stix2.parse fills in an absent id or modified (a KeyError, so a 500, before the fix)."""
    from tests.stix_factories import body, make_bundle, make_campaign, make_indicator

    obj = make_indicator("fuzz@example.test") if kind == "indicator" else make_campaign()
    del obj[missing]
    lab = exchange.member("lab-a")
    before = _stored(exchange.db)
    response = app.test_client().post(
        "/api/v1/bundles",
        data=body(make_bundle(obj)),
        headers={**lab.headers, "Content-Type": STIX},
    )
    assert 200 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    status = response.get_json()
    assert status["success_count"] == 0 and status["failure_count"] == 1
    assert f"missing required {missing}" in status["failures"][0]["message"]
    assert _stored(exchange.db)[:2] == before[:2] and _stored(exchange.db)[3] == before[3]


def test_an_email_domain_of_empty_labels_is_refused_not_half_normalised() -> None:
    """ "a@G.." came out as "a@g.", which then failed to normalise: not idempotent."""
    for raw in ("a@G..", "a@g.", "a@.", "a@.."):
        with pytest.raises(ValueError):
            normalise("email", raw)
    assert normalise("email", "a@Example.COM.") == "a@example.com"
