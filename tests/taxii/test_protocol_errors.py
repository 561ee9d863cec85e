"""Protocol rules: media types, auth, sizes and not-found answers, all as TAXII error bodies."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest

from sharing.models.submissions import Submission
from tests.stix_factories import body, make_bundle, make_indicator
from tests.taxii.conftest import ROOT, TAXII, Exchange

ALL = "Everything visible to you"


def _assert_taxii_error(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.headers["Content-Type"] == TAXII
    body = response.get_json(force=True)
    assert body["http_status"] == str(status)
    assert body["title"] and body["description"] and body["error_id"]


@pytest.mark.parametrize(
    "accept", ["application/json", "*/*", "application/taxii+json;version=2.0", None]
)
def test_an_accept_header_without_the_taxii_21_media_type_is_a_406(
    exchange: Exchange, accept: str | None
) -> None:
    headers = {"Authorization": f"Bearer {exchange.a.key}"}
    if accept:
        headers["Accept"] = accept
    _assert_taxii_error(exchange.client.get("/taxii2/", headers=headers), 406)


def test_posting_anything_but_taxii_json_is_a_415(exchange: Exchange) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    response = exchange.client.post(
        f"{ROOT}/collections/{everything}/objects/",
        headers=exchange.a.headers(**{"Content-Type": "application/stix+json;version=2.1"}),
        data=json.dumps({"objects": [make_indicator("x@example.com")]}),
    )
    _assert_taxii_error(response, 415)


def test_a_body_over_max_content_length_is_a_413(exchange: Exchange) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    exchange.client.application.config["MAX_CONTENT_LENGTH"] = 1000
    response = exchange.client.post(
        f"{ROOT}/collections/{everything}/objects/",
        headers=exchange.a.headers(**{"Content-Type": TAXII}),
        data=json.dumps({"objects": [make_indicator(f"{i}@example.com") for i in range(5)]}),
    )
    _assert_taxii_error(response, 413)


@pytest.mark.parametrize("auth", [None, "Bearer pal_nope_nope", "Basic !!notbase64", "Digest abc"])
def test_missing_or_bad_credentials_are_a_401_on_every_endpoint(
    exchange: Exchange, auth: str | None
) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    headers = {"Accept": TAXII} | ({"Authorization": auth} if auth else {})
    for path in ("/taxii2/", f"{ROOT}/", f"{ROOT}/collections/{everything}/objects/"):
        _assert_taxii_error(exchange.client.get(path, headers=headers), 401)


def test_basic_auth_with_the_key_as_password_works(
    exchange: Exchange, basic_auth: Callable[[str], str]
) -> None:
    headers = {"Accept": TAXII, "Authorization": basic_auth(exchange.a.key)}
    assert exchange.client.get(f"{ROOT}/collections/", headers=headers).status_code == 200


def test_unknown_paths_objects_and_statuses_are_404_taxii_errors(exchange: Exchange) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    for path in (
        "/taxii2/nope/",
        f"{ROOT}/status/00000000-0000-4000-8000-000000000000/",
        f"{ROOT}/collections/{everything}/objects/indicator--00000000-0000-4000-8000-000000000000/",
        f"{ROOT}/collections/{everything}/objects/"
        "indicator--00000000-0000-4000-8000-000000000000/versions/",
    ):
        _assert_taxii_error(exchange.client.get(path, headers=exchange.a.headers()), 404)


def test_an_object_the_caller_cannot_see_is_a_404_like_one_that_does_not_exist(
    exchange: Exchange,
) -> None:
    exchange.submit(exchange.a, make_indicator("red@example.com", tlp="red", group="frontier"))
    everything = exchange.collection_ids(exchange.a)[ALL]
    path = f"/collections/{everything}/objects/"
    (red,) = exchange.json(exchange.a, path, **{"match[type]": "indicator"})["objects"]
    for suffix in ("/", "/versions/"):
        response = exchange.get(exchange.c, f"{path}{red['id']}{suffix}")
        _assert_taxii_error(response, 404)
    assert (
        exchange.client.delete(
            f"{ROOT}{path}{red['id']}/", headers=exchange.c.headers()
        ).status_code
        == 404
    )


def test_status_answers_with_and_without_the_trailing_slash_but_only_to_the_submitter(
    exchange: Exchange,
) -> None:
    status = exchange.submit(exchange.a, make_indicator("s@example.com"))
    for path in (f"/status/{status['id']}", f"/status/{status['id']}/"):
        response = exchange.get(exchange.a, path)
        assert response.status_code == 200 and response.headers["Content-Type"] == TAXII
        assert response.get_json(force=True)["success_count"] == 1
    _assert_taxii_error(exchange.get(exchange.b, f"/status/{status['id']}/"), 404)


def test_a_post_that_is_not_an_envelope_is_a_400(exchange: Exchange) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    for data in ("[]", '{"objects": 3}', "{not json"):
        response = exchange.client.post(
            f"{ROOT}/collections/{everything}/objects/",
            headers=exchange.a.headers(**{"Content-Type": TAXII}),
            data=data,
        )
        _assert_taxii_error(response, 400)


def test_posting_to_a_collection_that_is_not_writable_is_a_403(exchange: Exchange) -> None:
    group = exchange.collection_ids(exchange.a)["Sharing group frontier"]
    response = exchange.client.post(
        f"{ROOT}/collections/{group}/objects/",
        headers=exchange.a.headers(**{"Content-Type": TAXII}),
        data=json.dumps({"objects": [make_indicator("x@example.com")]}),
    )
    _assert_taxii_error(response, 403)


def test_an_envelope_and_a_bundle_both_land_and_provenance_keeps_the_body_as_posted(
    exchange: Exchange,
) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    envelope = json.dumps({"objects": [make_indicator("env@example.com")], "more": False})
    bundle = body(make_bundle(make_indicator("bun@example.com")))
    for data in (envelope.encode(), bundle):
        response = exchange.client.post(
            f"{ROOT}/collections/{everything}/objects/",
            headers=exchange.a.headers(**{"Content-Type": TAXII}),
            data=data,
        )
        assert response.status_code == 202, response.get_data(as_text=True)[:300]
        status = response.get_json(force=True)
        assert status["success_count"] == 1 and status["failure_count"] == 0
        with exchange.rt.db.transaction() as session:
            row = session.get(Submission, status["id"])
            assert row is not None and row.raw_ct is not None
            raw = exchange.rt.cipher.decrypt(row.raw_ct, f"submissions.raw:{row.id}")
        assert gzip.decompress(raw) == data
