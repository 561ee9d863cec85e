"""DELETE withdraws the caller's own reports; other members' reports are out of its reach."""

from __future__ import annotations

from sharing.identifiers import CORROBORATION_EXTENSION_ID
from tests.stix_factories import make_campaign, make_indicator
from tests.taxii.conftest import ROOT, Exchange

ALL = "Everything visible to you"


def _indicator(exchange: Exchange, member, everything: str) -> dict:  # type: ignore[no-untyped-def]
    page = exchange.json(
        member, f"/collections/{everything}/objects/", **{"match[type]": "indicator"}
    )
    (found,) = page["objects"]
    return found


def test_delete_revokes_only_the_callers_report_and_readers_get_a_new_version(
    exchange: Exchange,
) -> None:
    exchange.submit(exchange.a, make_indicator("d@example.com"))
    exchange.submit(exchange.b, make_indicator("d@example.com"))
    everything = exchange.collection_ids(exchange.a)[ALL]
    before = _indicator(exchange, exchange.c, everything)
    url = f"{ROOT}/collections/{everything}/objects/{before['id']}/"
    response = exchange.client.delete(url, headers=exchange.a.headers())
    assert response.status_code == 200
    after = _indicator(exchange, exchange.c, everything)
    assert after["modified"] > before["modified"]
    assert after["extensions"][CORROBORATION_EXTENSION_ID]["reporter_count"] == 1
    assert "revoked" not in after  # lab-b still reports it
    exchange.client.delete(url, headers=exchange.b.headers())
    assert _indicator(exchange, exchange.c, everything)["revoked"] is True


def test_a_member_without_a_report_of_the_object_may_not_delete_it(exchange: Exchange) -> None:
    exchange.submit(exchange.a, make_indicator("d@example.com"))
    everything = exchange.collection_ids(exchange.a)[ALL]
    target = _indicator(exchange, exchange.c, everything)
    url = f"{ROOT}/collections/{everything}/objects/{target['id']}/"
    assert exchange.client.delete(url, headers=exchange.c.headers()).status_code == 403
    assert "revoked" not in _indicator(exchange, exchange.a, everything)


def test_delete_revokes_a_context_object_of_the_caller_with_a_new_modified(
    exchange: Exchange,
) -> None:
    campaign = make_campaign()
    exchange.submit(exchange.a, campaign)
    everything = exchange.collection_ids(exchange.a)[ALL]
    url = f"{ROOT}/collections/{everything}/objects/{campaign['id']}/"
    assert exchange.client.delete(url, headers=exchange.b.headers()).status_code == 403
    assert exchange.client.delete(url, headers=exchange.a.headers()).status_code == 200
    (seen,) = exchange.json(exchange.b, url.removeprefix(ROOT))["objects"]
    assert seen["revoked"] is True and seen["modified"] > campaign["modified"]
