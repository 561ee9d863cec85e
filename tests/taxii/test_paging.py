"""Paging, filters and versions: keyset pages with signed tokens, deltas by added_after."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from flask import Flask

from sharing import create_app
from sharing.feeds import tokens
from sharing.identifiers import extension_definitions_bundle
from tests.stix_factories import make_campaign, make_indicator
from tests.taxii.conftest import Exchange

ALL = "Everything visible to you"
# the exchange identity and the extension definitions Palisade publishes
STATICS = len(extension_definitions_bundle()["objects"])
EXTENSION_DEFINITIONS = STATICS - 1


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _fill(exchange: Exchange, n: int) -> list[str]:
    objects = [make_indicator(f"user{i}@example.com") for i in range(n)]
    exchange.submit(exchange.a, *objects)
    return [o["id"] for o in objects]


def test_pages_follow_next_in_ascending_date_added_and_list_every_object_once(
    exchange: Exchange,
) -> None:
    _fill(exchange, 7)
    everything = exchange.collection_ids(exchange.a)[ALL]
    path = f"/collections/{everything}/manifest/"
    records, params, pages = [], {"limit": 3}, 0
    while True:
        response = exchange.get(exchange.a, path, **params)
        page = json.loads(response.get_data())
        pages += 1
        records += page["objects"]
        assert response.headers["X-TAXII-Date-Added-First"] == page["objects"][0]["date_added"]
        assert response.headers["X-TAXII-Date-Added-Last"] == page["objects"][-1]["date_added"]
        assert len(response.headers["X-TAXII-Date-Added-Last"]) == len(
            "2026-01-01T00:00:00.000000Z"
        )
        if not page["more"]:
            break
        params["next"] = page["next"]
    assert pages == -(-(7 + STATICS) // 3) and len(records) == 7 + STATICS
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    added = [_ts(r["date_added"]) for r in records]
    assert added == sorted(added)


def test_added_after_returns_exactly_the_objects_whose_visible_state_changed(
    exchange: Exchange,
) -> None:
    first = make_indicator("x@example.com")
    exchange.submit(exchange.a, first, make_indicator("y@example.com"))
    everything = exchange.collection_ids(exchange.a)[ALL]
    path = f"/collections/{everything}/objects/"
    response = exchange.get(exchange.a, path)
    mark = response.headers["X-TAXII-Date-Added-Last"]
    assert exchange.json(exchange.a, path, added_after=mark) == {}
    # lab-c corroborates x: lab-a sees a new reporter, so x gets a new version
    exchange.submit(exchange.c, make_indicator("x@example.com"))
    delta = exchange.json(exchange.a, path, added_after=mark)["objects"]
    assert len(delta) == 1
    before = {o["id"]: o for o in json.loads(response.get_data())["objects"]}
    assert before[delta[0]["id"]]["modified"] < delta[0]["modified"]
    # a red report in a group lab-c is not in changes nothing lab-c can see
    c_mark = exchange.get(exchange.c, path).headers["X-TAXII-Date-Added-Last"]
    exchange.submit(exchange.b, make_indicator("x@example.com", tlp="red", group="frontier"))
    assert exchange.json(exchange.c, path, added_after=c_mark) == {}
    assert len(exchange.json(exchange.a, path, added_after=mark)["objects"]) == 1


def test_match_filters_select_by_id_type_and_spec_version(exchange: Exchange) -> None:
    ids = _fill(exchange, 3)
    exchange.submit(exchange.a, make_campaign())
    everything = exchange.collection_ids(exchange.a)[ALL]
    path = f"/collections/{everything}/objects/"
    indicators = exchange.json(exchange.a, path, **{"match[type]": "indicator"})["objects"]
    assert {o["type"] for o in indicators} == {"indicator"} and len(indicators) == 3
    mixed = exchange.json(exchange.a, path, **{"match[type]": "campaign,extension-definition"})
    assert (
        sorted(o["type"] for o in mixed["objects"])
        == ["campaign"] + ["extension-definition"] * EXTENSION_DEFINITIONS
    )
    canonical = indicators[1]["id"]
    by_id = exchange.json(exchange.a, path, **{"match[id]": canonical})["objects"]
    assert [o["id"] for o in by_id] == [canonical]
    # member-side ids are not canonical ids: the exchange re-identifies every indicator
    assert exchange.json(exchange.a, path, **{"match[id]": ids[0]}) == {}
    assert exchange.json(exchange.a, path, **{"match[spec_version]": "2.0"}) == {}
    everything_21 = exchange.json(exchange.a, path, **{"match[spec_version]": "2.1"})["objects"]
    assert len(everything_21) == 4 + STATICS


def test_versions_are_the_distinct_visible_changes_and_objects_serve_only_the_latest(
    exchange: Exchange,
) -> None:
    exchange.submit(exchange.a, make_indicator("v@example.com"))
    exchange.submit(exchange.b, make_indicator("v@example.com"))
    exchange.submit(exchange.c, make_indicator("v@example.com", tlp="green"))
    everything = exchange.collection_ids(exchange.a)[ALL]
    (indicator,) = exchange.json(
        exchange.a, f"/collections/{everything}/objects/", **{"match[type]": "indicator"}
    )["objects"]
    base = f"/collections/{everything}/objects/{indicator['id']}"
    versions = exchange.json(exchange.a, base + "/versions/")["versions"]
    assert len(versions) == 3 and versions == sorted(versions)
    assert versions[-1] == indicator["modified"]
    paged = exchange.json(exchange.a, base + "/versions/", limit=2)
    assert paged["versions"] == versions[:2] and paged["more"] is True
    rest = exchange.json(exchange.a, base + "/versions/", limit=2, next=paged["next"])
    assert rest["versions"] == versions[2:]
    manifest = exchange.json(
        exchange.a,
        f"/collections/{everything}/manifest/",
        **{"match[version]": "all", "match[id]": indicator["id"]},
    )
    assert [r["version"] for r in manifest["objects"]] == versions
    # content exists only for the latest version
    for wanted, expected in (("first", {}), ("last", [indicator]), ("all", [indicator])):
        got = exchange.json(exchange.a, base + "/", **{"match[version]": wanted})
        assert got.get("objects", {}) == expected
    assert exchange.json(exchange.a, base + "/", **{"match[version]": versions[0]}) == {}


def test_a_next_token_is_refused_when_tampered_foreign_or_reused_with_other_filters(
    exchange: Exchange,
) -> None:
    _fill(exchange, 3)
    everything = exchange.collection_ids(exchange.a)[ALL]
    path = f"/collections/{everything}/objects/"
    token = exchange.json(exchange.a, path, limit=2)["next"]
    payload, tag = token.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    forged = tokens.sign(b"another exchange's secret", tokens.Position("x", 0))
    for bad, params in (
        (flipped + "." + tag, {}),
        ("garbage", {}),
        (forged, {}),
        (token, {"match[type]": "indicator"}),
    ):
        response = exchange.get(exchange.a, path, next=bad, **params)
        assert response.status_code == 400, bad
        assert response.get_json(force=True)["http_status"] == "400"
    assert exchange.get(exchange.b, path, next=token).status_code == 400  # another member
    manifest = f"/collections/{everything}/manifest/"
    assert exchange.get(exchange.a, manifest, next=token).status_code == 400
    assert exchange.get(exchange.a, path, next=token).status_code == 200


def test_limit_is_capped_by_the_configured_maximum_page_size(
    exchange: Exchange, db, settings, key_source
) -> None:
    _fill(exchange, 6)
    capped: Flask = create_app(
        {
            "settings": settings.replace(taxii_max_page_size=5),
            "database": db,
            "key_source": key_source,
            "TESTING": True,
        }
    )
    everything = exchange.collection_ids(exchange.a)[ALL]
    client = capped.test_client()
    page = client.get(
        f"/taxii2/exchange/collections/{everything}/objects/",
        headers=exchange.a.headers(),
        query_string={"limit": 1000},
    ).get_json(force=True)
    assert len(page["objects"]) == 5 and page["more"] is True


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
def test_a_limit_that_is_not_a_positive_integer_is_a_400(exchange: Exchange, limit: str) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    response = exchange.get(exchange.a, f"/collections/{everything}/objects/", limit=limit)
    assert response.status_code == 400


def test_a_malformed_added_after_is_a_400(exchange: Exchange) -> None:
    everything = exchange.collection_ids(exchange.a)[ALL]
    response = exchange.get(exchange.a, f"/collections/{everything}/objects/", added_after="soon")
    assert response.status_code == 400


def test_the_maximum_page_size_is_a_setting_read_from_the_environment() -> None:
    from sharing.config import ConfigError, Settings

    assert Settings.from_env(environ={}).taxii_max_page_size == 1000
    found = Settings.from_env(environ={"PALISADE_TAXII_MAX_PAGE_SIZE": "250"})
    assert found.taxii_max_page_size == 250
    for bad in ("0", "-3", "many"):
        with pytest.raises(ConfigError, match="PALISADE_TAXII_MAX_PAGE_SIZE"):
            Settings.from_env(environ={"PALISADE_TAXII_MAX_PAGE_SIZE": bad})
