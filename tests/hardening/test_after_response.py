"""Bundle doors free a bundle's working objects after the response, not before
(sharing/web/after_response.py): is the collector held until the response is closed, released
when a request fails, and do the objects the service keeps back really outlive the call?"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from sharing.ingest import submit_bundle
from tests.stix_factories import body, make_bundle, make_indicator

STIX = "application/stix+json"


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def _bundle(*emails: str) -> bytes:
    return body(make_bundle(*[make_indicator(e) for e in emails]))


def _post(app: Flask, member: Any, *emails: str) -> Any:
    return app.test_client().post(
        "/api/v1/bundles",
        data=_bundle(*emails),
        headers={**member.headers, "Content-Type": STIX},
    )


def test_the_collector_stays_held_until_the_status_response_is_closed(
    app: Flask, exchange: Any
) -> None:
    response = _post(app, exchange.member("lab-a"), "a@example.com", "b@example.com")
    assert response.status_code == 202 and response.get_json()["success_count"] == 2
    assert not gc.isenabled()  # the bundle's objects wait for the response to be closed
    response.close()  # what the WSGI server does once the body is sent
    assert gc.isenabled()


def test_the_taxii_door_holds_and_releases_the_same_way(app: Flask, exchange: Any) -> None:
    lab = exchange.member("lab-a")
    client = app.test_client()
    taxii = {**lab.headers, "Accept": "application/taxii+json;version=2.1"}
    root = client.get("/taxii2/", headers=taxii).get_json()["default"].rstrip("/")
    collections = client.get(f"{root}/collections/", headers=taxii).get_json()["collections"]
    target = next(c for c in collections if c["can_write"])
    response = client.post(
        f"{root}/collections/{target['id']}/objects/",
        data=_bundle("t@example.com"),
        headers={**taxii, "Content-Type": "application/taxii+json;version=2.1"},
    )
    assert response.status_code == 202, response.get_data(as_text=True)[:300]
    assert not gc.isenabled()
    response.close()
    assert gc.isenabled()


def test_a_refused_bundle_releases_the_hold_with_its_error(app: Flask, exchange: Any) -> None:
    lab = exchange.member("lab-a")
    response = app.test_client().post(
        "/api/v1/bundles", data=b'{"type": "bundle"', headers={**lab.headers, "Content-Type": STIX}
    )
    assert response.status_code == 400
    assert gc.isenabled()  # released when the view raised, not when the response closes


def test_a_response_that_is_never_closed_releases_when_it_is_freed(
    app: Flask, exchange: Any
) -> None:
    response = _post(app, exchange.member("lab-a"), "c@example.com")
    assert response.status_code == 202
    assert not gc.isenabled()
    del response
    assert gc.isenabled()


def test_what_the_service_keeps_back_outlives_the_call_until_the_list_is_emptied(
    rt: Any, exchange: Any, db: Any
) -> None:
    from sharing.accounts import api_keys

    lab = exchange.member("lab-a")
    with db.transaction() as session:
        principal = api_keys.authenticate(session, lab.key, None)
    keep: list[object] = []
    report = submit_bundle(rt, principal, _bundle("k1@example.com", "k2@example.com"), keep=keep)
    assert len(report.successes) == 2
    parsed = next(o for o in keep if isinstance(o, dict) and o.get("type") == "bundle")
    assert [o["type"] for o in parsed["objects"]] == ["indicator", "indicator"]
    watched = weakref.ref(next(o for o in keep if type(o).__name__ == "BundleWriter"))
    keep.clear()
    assert watched() is None  # freed by reference counting once let go
