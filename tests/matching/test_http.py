"""The HTTP contract: range padding and caching, bad input as 4xx naming the item, never a 500."""

from __future__ import annotations

from flask.testing import FlaskClient

from sharing.identifiers import hash_identifier, hash_prefixes
from sharing.identifiers.stix import build_pattern
from sharing.matching import RANGE_MIN_SUFFIXES
from tests.matching.conftest import Exchange
from tests.stix_factories import TEST_CONSORTIUM_KEY, make_indicator

K = TEST_CONSORTIUM_KEY
EMAIL = "mallory@example.com"
VALUE = hash_identifier(K, "email", EMAIL)
DIGEST = VALUE.rsplit(":", 1)[1]


def _range(client: FlaskClient, headers: dict[str, str], prefix: str) -> list[str]:
    response = client.get(f"/api/v1/range/{prefix}", headers=headers)
    assert response.status_code == 200, response.json
    [group] = response.json["keys"]
    assert group["key_id"] == "c1"
    return group["suffixes"]


def test_range_lists_the_real_suffix_among_a_fixed_number_of_decoys(
    exchange: Exchange, client: FlaskClient
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(EMAIL))
    suffixes = _range(client, bob.headers, DIGEST[:5].upper())
    assert DIGEST[5:] in suffixes
    assert len(suffixes) == RANGE_MIN_SUFFIXES
    assert all(len(s) == 59 and int(s, 16) >= 0 for s in suffixes)
    assert suffixes == sorted(suffixes)
    empty = _range(client, bob.headers, "00000" if DIGEST[:5] != "00000" else "00001")
    assert len(empty) == RANGE_MIN_SUFFIXES


def test_range_leaves_out_invisible_and_revoked_indicators(
    exchange: Exchange, client: FlaskClient
) -> None:
    alice, bob, eve = (exchange.member(n) for n in ("alice", "bob", "eve"))
    exchange.group("labs", alice, bob)
    exchange.submit(alice, make_indicator(EMAIL, tlp="red", group="labs"))
    assert DIGEST[5:] not in _range(client, eve.headers, DIGEST[:5])
    assert DIGEST[5:] in _range(client, bob.headers, DIGEST[:5])


def _indicator_with_digest(digest: str) -> dict:
    """An e-mail indicator whose hash is ``digest`` (the exchange cannot tell it from a real
    one), to put values in chosen range buckets."""
    obj = make_indicator(f"{digest}@example.com")
    obj["pattern"] = build_pattern("email", f"hmac-sha256:c1:{digest}")
    return obj


def test_range_buckets_hold_exactly_their_own_prefix_including_the_first_and_last(
    exchange: Exchange, client: FlaskClient
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    digests = {p: p + p[-1] * 59 for p in ("00000", "12345", "12346", "fffff")}
    exchange.submit(alice, *(_indicator_with_digest(d) for d in digests.values()))
    for prefix, digest in digests.items():
        suffixes = _range(client, bob.headers, prefix)
        real = {d[5:] for d in digests.values()} & set(suffixes)
        assert real == {digest[5:]}, (prefix, real)


def test_range_answers_are_cacheable_per_credential_only(
    exchange: Exchange, client: FlaskClient
) -> None:
    bob = exchange.member("bob")
    response = client.get(f"/api/v1/range/{DIGEST[:5]}", headers=bob.headers)
    assert "max-age=30" in response.headers["Cache-Control"]
    assert "Authorization" in response.headers["Vary"]
    match = client.post("/api/v1/match", json={"items": []}, headers=bob.headers)
    assert match.headers["Cache-Control"] == "no-store"


def test_range_refuses_a_prefix_that_is_not_five_hex_digits(
    exchange: Exchange, client: FlaskClient
) -> None:
    bob = exchange.member("bob")
    for bad in ("abcd", "abcdef", "ghijk", "ab%20cd"):
        response = client.get(f"/api/v1/range/{bad}", headers=bob.headers)
        assert response.status_code == 400, bad
        assert "5 hex digits" in response.json["message"]


def test_match_over_http_answers_the_design_contract(
    exchange: Exchange, client: FlaskClient
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator("45.83.64.0/24", "ip"))
    request = {
        "items": [
            {"kind": "ip", "prefixes": hash_prefixes(K, "45.83.64.9")},
            {"kind": "email", "value": VALUE},
        ],
        "min_similarity": 0.8,
    }
    response = client.post("/api/v1/match", json=request, headers=bob.headers)
    assert response.status_code == 200
    assert response.json["matched_count"] == 1
    first, second = response.json["results"]
    assert first["matched"] and not second["matched"]
    assert set(first["matches"][0]) >= {
        "indicator_id", "kind", "similarity", "reporter_count", "first_seen", "last_seen",
        "confidence", "score", "tlp", "campaigns", "disputed",
    }  # fmt: skip


def test_an_oversized_batch_is_refused_with_413(exchange: Exchange, client: FlaskClient) -> None:
    bob = exchange.member("bob")
    items = [{"kind": "email", "value": VALUE}] * (exchange.rt.settings.max_match_items + 1)
    response = client.post("/api/v1/match", json={"items": items}, headers=bob.headers)
    assert response.status_code == 413


def test_a_malformed_item_is_refused_with_400_naming_its_index(
    exchange: Exchange, client: FlaskClient
) -> None:
    bob = exchange.member("bob")
    good = {"kind": "email", "value": VALUE}
    bad_items = [
        {"kind": "email", "value": VALUE.upper()},
        {"kind": "email", "value": "hmac-sha256:c1:abc"},
        {"kind": "email"},
        {"kind": "fax", "value": VALUE},
        {"kind": "ip", "prefixes": [VALUE, "nope"]},
        {"kind": "ip", "prefixes": []},
        {"kind": "ip", "prefixes": [VALUE] * 30},
        {"kind": "prompt", "value": VALUE, "minhash": "not base64!"},
        {"kind": "prompt"},
        {"kind": "email", "value": VALUE, "minhash": "AAAA"},
        {"kind": "email", "value": 7},
        {"kind": "email", "value": VALUE, "extra": 1},
        "hmac-sha256:c1:" + "0" * 64,
    ]
    for bad in bad_items:
        response = client.post(
            "/api/v1/match", json={"items": [good, good, bad]}, headers=bob.headers
        )
        assert response.status_code == 400, (bad, response.json)
        assert response.json["message"].startswith("items[2]: "), response.json
        assert response.json["details"] == {"index": 2}


def test_a_malformed_body_is_refused_with_400(exchange: Exchange, client: FlaskClient) -> None:
    bob = exchange.member("bob")
    bodies = [b"", b"{", b"[]", b'{"items": 3}', b'{"items": [], "min_similarity": 2}']
    bodies += [b'{"items": [], "min_similarity": true}', b'{"itemz": []}', b"\xff\xfe"]
    for body in bodies:
        response = client.post(
            "/api/v1/match", data=body, headers=bob.headers, content_type="application/json"
        )
        assert response.status_code == 400, body


def test_match_and_range_need_the_match_scope(exchange: Exchange, client: FlaskClient) -> None:
    writer = exchange.member("writer", scopes="read,write")
    response = client.post("/api/v1/match", json={"items": []}, headers=writer.headers)
    assert response.status_code == 403
    assert client.get("/api/v1/range/abcde", headers=writer.headers).status_code == 403
    assert client.post("/api/v1/match", json={"items": []}).status_code == 401


def test_sightings_over_http_need_write_and_a_visible_indicator(
    exchange: Exchange, client: FlaskClient
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    matcher = exchange.member("matcher", scopes="match")
    exchange.submit(alice, make_indicator(EMAIL))
    body = {"type": "seen", "kind": "email", "value": VALUE}
    assert client.post("/api/v1/sightings", json=body, headers=matcher.headers).status_code == 403
    response = client.post("/api/v1/sightings", json=body, headers=bob.headers)
    assert response.status_code == 201, response.json
    assert response.json["id"].startswith("sighting--")
    assert response.json["sighting_count"] == 1
    for bad in ({"type": "maybe", "kind": "email", "value": VALUE}, {"type": "seen"},
                {"type": "seen", "indicator_id": "indicator--nope"},
                {"type": "seen", "kind": "email", "value": "x"},
                {"type": "seen", "kind": "email", "value": VALUE, "count": 0}):  # fmt: skip
        response = client.post("/api/v1/sightings", json=bad, headers=bob.headers)
        assert response.status_code == 400, (bad, response.json)
    unknown = {
        "type": "seen",
        "indicator_id": "indicator--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
    }
    assert client.post("/api/v1/sightings", json=unknown, headers=bob.headers).status_code == 404


def test_the_openapi_document_describes_match_range_and_sightings(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/match" in spec["paths"]
    assert "/api/v1/range/{prefix}" in spec["paths"]
    assert "/api/v1/sightings" in spec["paths"]
    body = spec["paths"]["/api/v1/match"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("MatchRequest")
    assert "MatchResponse" in spec["components"]["schemas"]
