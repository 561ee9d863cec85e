"""Discovery, API root and collections: what each member is offered, and what each one reads."""

from __future__ import annotations

from sharing.corroboration import ANONYMOUS_LABEL
from sharing.identifiers import CORROBORATION_EXTENSION_ID, PALISADE_IDENTITY_ID, TLP_MARKING_IDS
from tests.stix_factories import make_campaign, make_indicator
from tests.taxii.conftest import ROOT, TAXII, Exchange

ALL, GROUP, OWN = "Everything visible to you", "Sharing group frontier", "Your submissions"


def _indicators(objects: list[dict]) -> dict[str, dict]:
    return {o["id"]: o for o in objects if o["type"] == "indicator"}


def test_discovery_points_to_the_one_api_root_with_absolute_urls(exchange: Exchange) -> None:
    response = exchange.client.get("/taxii2/", headers=exchange.a.headers())
    assert response.status_code == 200
    assert response.headers["Content-Type"] == TAXII
    body = response.get_json(force=True)
    assert body["default"] == f"http://localhost{ROOT}/"
    assert body["api_roots"] == [body["default"]]
    root = exchange.json(exchange.a, "/")
    assert root["versions"] == [TAXII]
    assert root["max_content_length"] == exchange.rt.settings.max_content_length


def test_each_member_gets_all_own_and_one_collection_per_group_with_stable_ids(
    exchange: Exchange,
) -> None:
    a, c = exchange.collection_ids(exchange.a), exchange.collection_ids(exchange.c)
    assert list(a) == [ALL, GROUP, OWN]
    assert list(c) == [ALL, OWN]
    assert a[ALL] == c[ALL] and a[OWN] == c[OWN]
    assert exchange.collection_ids(exchange.b)[GROUP] == a[GROUP]
    one = exchange.json(exchange.a, f"/collections/{a[GROUP]}/")
    assert one["id"] == a[GROUP]
    assert (one["can_read"], one["can_write"]) == (True, False)
    assert exchange.json(exchange.a, f"/collections/{a[OWN]}/")["can_write"] is True


def test_a_group_collection_is_invisible_to_non_members_exactly_like_a_missing_one(
    exchange: Exchange,
) -> None:
    group_id = exchange.collection_ids(exchange.a)[GROUP]
    hidden = exchange.get(exchange.c, f"/collections/{group_id}/objects/")
    missing = exchange.get(exchange.c, "/collections/00000000-0000-4000-8000-000000000000/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["Content-Type"] == TAXII
    assert hidden.get_json(force=True)["title"] == missing.get_json(force=True)["title"]


def test_read_only_and_write_only_keys_get_honest_can_read_and_can_write(
    exchange: Exchange, db
) -> None:
    from sharing.models.accounts import Organization
    from tests.factories import make_api_key

    with db.transaction(write=True) as session:
        org = session.query(Organization).filter_by(name="lab-c").one()
        read_only = make_api_key(session, org, scopes="read")[0]
        write_only = make_api_key(session, org, scopes="write")[0]
    for key, readable, writable in ((read_only, True, False), (write_only, False, True)):
        headers = {"Authorization": f"Bearer {key}", "Accept": TAXII}
        found = exchange.client.get(f"{ROOT}/collections/", headers=headers).get_json(force=True)
        everything = found["collections"][0]
        assert (everything["can_read"], everything["can_write"]) == (readable, writable)
    headers = {"Authorization": f"Bearer {write_only}", "Accept": TAXII}
    response = exchange.client.get(
        f"{ROOT}/collections/{everything['id']}/objects/", headers=headers
    )
    assert response.status_code == 403


def test_tlp_red_in_a_group_reaches_members_only_and_the_marking_is_the_least_restrictive(
    exchange: Exchange,
) -> None:
    public = make_indicator("shared@example.com", tlp="green")
    exchange.submit(exchange.a, public)
    exchange.submit(exchange.b, make_indicator("shared@example.com", tlp="red", group="frontier"))
    exchange.submit(exchange.b, make_indicator("secret@example.com", tlp="red", group="frontier"))
    everything = exchange.collection_ids(exchange.a)[ALL]
    seen = {m.name: _indicators(exchange.pull(m, everything)) for m in (exchange.a, exchange.c)}
    assert len(seen["lab-a"]) == 2 and len(seen["lab-c"]) == 1
    (only,) = seen["lab-c"].values()
    corroboration = only["extensions"][CORROBORATION_EXTENSION_ID]
    assert corroboration["reporter_count"] == 1  # lab-c cannot count lab-b's red report
    assert only["object_marking_refs"] == [TLP_MARKING_IDS["green"]]
    assert "lab-b" not in only["description"]
    a_view = seen["lab-a"][only["id"]]
    assert a_view["extensions"][CORROBORATION_EXTENSION_ID]["reporter_count"] == 2
    assert a_view["modified"] > only["modified"]  # lab-a saw a change lab-c did not
    (red,) = (o for i, o in seen["lab-a"].items() if i != only["id"])
    assert red["object_marking_refs"] == [TLP_MARKING_IDS["red"]]
    assert red["created_by_ref"] == PALISADE_IDENTITY_ID


def test_anonymous_reports_and_context_show_a_member_but_never_which(exchange: Exchange) -> None:
    campaign = make_campaign(
        created_by_ref="identity--0b5d9a2e-2c8b-4c43-8d1a-3f3c1b1f0e4e",
        extensions={
            "extension-definition--f0a96e34-acfe-49d7-b749-2829ecc56ec1": {
                "extension_type": "property-extension",
                "anonymous": True,
            }
        },
    )
    exchange.submit(exchange.a, make_indicator("anon@example.com", anonymous=True), campaign)
    everything = exchange.collection_ids(exchange.b)[ALL]
    for member, hidden in ((exchange.b, True), (exchange.a, False)):
        objects = exchange.pull(member, everything)
        (indicator,) = _indicators(objects).values()
        (seen_campaign,) = (o for o in objects if o["type"] == "campaign")
        assert ("lab-a" in indicator["description"]) is not hidden
        assert (ANONYMOUS_LABEL in indicator["description"]) is hidden
        assert ("created_by_ref" in seen_campaign) is not hidden
        assert "extensions" not in seen_campaign  # the ingest-only report extension


def test_group_and_own_collections_list_only_objects_in_their_scope(exchange: Exchange) -> None:
    mine = make_indicator("mine@example.com")
    exchange.submit(exchange.a, mine)
    exchange.submit(exchange.b, make_indicator("theirs@example.com", tlp="red", group="frontier"))
    exchange.submit(exchange.c, make_indicator("public@example.com"))
    ids = exchange.collection_ids(exchange.a)
    counts = {t: len(_indicators(exchange.pull(exchange.a, ids[t]))) for t in ids}
    assert counts == {ALL: 3, GROUP: 1, OWN: 1}
