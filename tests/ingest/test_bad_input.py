"""Malformed, oversized, hostile or unauthorised input: a precise 4xx, nothing stored."""

from __future__ import annotations

import json

import pytest

from sharing.models.indicators import Indicator, Report
from sharing.models.submissions import Submission
from tests.factories import bearer
from tests.stix_factories import make_bundle, make_indicator

STIX = "application/stix+json"


def post(client, key, data, content_type=STIX):
    return client.post(
        "/api/v1/bundles", data=data, headers={**bearer(key), "Content-Type": content_type}
    )


def assert_nothing_stored(exchange):
    assert exchange.count(Indicator) == 0
    assert exchange.count(Report) == 0
    assert exchange.count(Submission) == 0


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"type": "bundle", ', "not valid JSON"),
        (b'{"type": "bundle", "type": "bundle", "id": "x"}', "duplicate key"),
        (b'{"type": "bundle", "id": NaN}', "NaN"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'["not", "a", "bundle"]', "must be a STIX bundle"),
        (b'{"type": "indicator"}', "must be a STIX bundle"),
        (b'{"type": "bundle", "id": "bundle--nope"}', "bundle--<UUID>"),
        (
            b'{"type": "bundle", "id": "bundle--6e7b1c1a-1111-4a8e-9a1b-2b3c4d5e6f70", '
            b'"spec_version": "2.0", "objects": []}',
            "STIX 2.1",
        ),
        (
            b'{"type": "bundle", "id": "bundle--6e7b1c1a-1111-4a8e-9a1b-2b3c4d5e6f70", '
            b'"objects": {"a": 1}}',
            "must be a list",
        ),
    ],
)
def test_a_malformed_body_gets_a_400_that_says_what_is_wrong(client, exchange, data, fragment):
    member = exchange.member("lab-a")
    response = post(client, member.key, data)
    assert response.status_code == 400, response.json
    assert fragment in response.json["message"]
    assert_nothing_stored(exchange)


def test_a_body_over_the_size_limit_gets_413(app, client, exchange):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    member = exchange.member("lab-a")
    bundle = make_bundle(*[make_indicator(f"u{i}@evil.test") for i in range(40)])
    response = post(client, member.key, json.dumps(bundle).encode())
    assert response.status_code == 413
    assert "10000 bytes" in response.json["message"]
    assert_nothing_stored(exchange)


def test_too_many_objects_gets_413(app, client, exchange, monkeypatch):
    runtime = app.extensions["palisade"]
    monkeypatch.setattr(runtime, "settings", runtime.settings.replace(max_objects_per_bundle=3))
    member = exchange.member("lab-a")
    bundle = make_bundle(*[make_indicator(f"u{i}@evil.test") for i in range(4)])
    response = post(client, member.key, json.dumps(bundle).encode())
    assert response.status_code == 413
    assert "4 objects" in response.json["message"] and "limit is 3" in response.json["message"]
    assert_nothing_stored(exchange)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_an_unsupported_content_type_gets_415(client, exchange, content_type):
    member = exchange.member("lab-a")
    data = json.dumps(make_bundle(make_indicator("a@evil.test"))).encode()
    response = post(client, member.key, data, content_type)
    assert response.status_code == 415
    assert_nothing_stored(exchange)


def test_no_credentials_get_401_and_a_read_only_key_gets_403(client, exchange):
    reader = exchange.member("lab-r", scopes="read,match")
    data = json.dumps(make_bundle(make_indicator("a@evil.test"))).encode()
    assert (
        client.post("/api/v1/bundles", data=data, headers={"Content-Type": STIX}).status_code == 401
    )
    response = post(client, reader.key, data)
    assert response.status_code == 403 and "'write' scope" in response.json["message"]
    assert_nothing_stored(exchange)


def test_a_valid_bundle_over_http_is_accepted_with_a_taxii_status(client, exchange):
    member = exchange.member("lab-a")
    data = json.dumps(make_bundle(make_indicator("ok@evil.test"))).encode()
    response = post(client, member.key, data)
    assert response.status_code == 202
    status = response.json
    assert status["status"] == "complete" and status["success_count"] == 1
    again = client.get(f"/api/v1/status/{status['id']}", headers=bearer(member.key))
    assert again.status_code == 200 and again.json["successes"] == status["successes"]


def test_a_member_cannot_read_another_members_status(client, exchange):
    a, b = exchange.member("lab-a"), exchange.member("lab-b")
    data = json.dumps(make_bundle(make_indicator("ok@evil.test"))).encode()
    status_id = post(client, a.key, data).json["id"]
    response = client.get(f"/api/v1/status/{status_id}", headers=bearer(b.key))
    assert response.status_code == 404
