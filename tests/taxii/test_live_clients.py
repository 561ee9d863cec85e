"""Unmodified OASIS clients against a real server on loopback, and paging across processes.

``taxii2-client`` walks discovery → API root → collections → every page, pushes an envelope
and polls its status, reads objects, the manifest and versions; ``stix2.TAXIICollectionStore``
reads through it. Nothing on the client side is patched.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
import stix2
from taxii2client.v21 import Server, as_pages

from sharing.db import Database
from sharing.identifiers import extension_definitions_bundle
from tests.conftest import fresh_database_url
from tests.live import LiveServer
from tests.stix_factories import make_campaign, make_indicator, make_relationship

TAXII = "application/taxii+json;version=2.1"
ALL = "Everything visible to you"


def _collection(url: str, key: str, title: str = ALL) -> Any:
    server = Server(f"{url}/taxii2/", user="taxii", password=key)
    (root,) = server.api_roots
    assert root.url == server.default.url
    return next(c for c in root.collections if c.title == title)


def _pull(collection: Any, per_request: int = 3) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for envelope in as_pages(collection.get_objects, per_request=per_request):
        objects += envelope.get("objects", [])
    return objects


def _patterns(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["pattern"]: o for o in objects if o["type"] == "indicator"}


def test_the_oasis_client_pushes_and_reads_back_exactly_what_each_member_may_see(
    live: LiveServer,
) -> None:
    keys = {name: live.member(name) for name in ("lab-a", "lab-b", "lab-c")}
    live.group("frontier", "lab-a", "lab-b")
    green = make_indicator("green@example.com", tlp="green")
    red = make_indicator("red@example.com", tlp="red", group="frontier")
    anonymous = make_indicator("anon@example.com", anonymous=True)
    campaign = make_campaign()
    link = make_relationship(green["id"], campaign["id"])

    writer = _collection(live.url, keys["lab-a"])
    status = writer.add_objects(
        {"objects": [green, red, anonymous, campaign, link]}, wait_for_completion=False
    )
    status.refresh()  # polls GET .../status/<id> without a trailing slash
    assert (status.status, status.success_count, status.failure_count) == ("complete", 5, 0)

    seen = {name: _pull(_collection(live.url, key)) for name, key in keys.items()}
    assert set(_patterns(seen["lab-a"])) == {o["pattern"] for o in (green, red, anonymous)}
    assert set(_patterns(seen["lab-b"])) == set(_patterns(seen["lab-a"]))
    assert set(_patterns(seen["lab-c"])) == {green["pattern"], anonymous["pattern"]}
    for name in ("lab-b", "lab-c"):
        shown = _patterns(seen[name])[anonymous["pattern"]]
        assert "lab-a" not in shown["description"] and "a member" in shown["description"]
        (got_campaign,) = (o for o in seen[name] if o["type"] == "campaign")
        assert got_campaign == campaign
        (got_link,) = (o for o in seen[name] if o["type"] == "relationship")
        canonical_green = _patterns(seen[name])[green["pattern"]]["id"]
        assert got_link == link | {"source_ref": canonical_green}
    assert "lab-a" in _patterns(seen["lab-a"])[anonymous["pattern"]]["description"]

    reader = _collection(live.url, keys["lab-c"])
    one = _patterns(seen["lab-c"])[green["pattern"]]
    assert reader.get_object(one["id"])["objects"] == [one]
    manifest: list[dict[str, Any]] = []
    for envelope in as_pages(reader.get_manifest, per_request=2):
        manifest += envelope.get("objects", [])
    assert [m["id"] for m in manifest] == [o["id"] for o in seen["lab-c"]]
    assert reader.object_versions(one["id"])["versions"] == [one["modified"]]

    store = stix2.TAXIICollectionStore(reader, allow_custom=True)
    from_store = store.get(one["id"])
    assert from_store.id == one["id"] and from_store.pattern == one["pattern"]
    indicators = store.query([stix2.Filter("type", "=", "indicator")])
    assert {i.pattern for i in indicators} == {green["pattern"], anonymous["pattern"]}


def _post(url: str, key: str, objects: list[dict[str, Any]]) -> None:
    response = requests.post(
        f"{url}/taxii2/exchange/collections/{_collection(url, key).id}/objects/",
        json={"objects": objects},
        headers={"Authorization": f"Bearer {key}", "Accept": TAXII, "Content-Type": TAXII},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert response.json()["failure_count"] == 0


def _page(url: str, key: str, collection: str, **params: Any) -> requests.Response:
    response = requests.get(
        f"{url}/taxii2/exchange/collections/{collection}/objects/",
        params=params,
        headers={"Authorization": f"Bearer {key}", "Accept": TAXII},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response


class _SecondProcess(LiveServer):
    """Another gunicorn process over an existing server's database, instance and keys."""

    def __init__(self, first: LiveServer) -> None:  # no re-seeding: the database is shared
        self.instance, self.database_url = first.instance, first.database_url
        self.key_file, self.overrides = first.key_file, first.overrides
        self.settings, self.db, self.rt = first.settings, Database(first.database_url), first.rt
        self.url, self._server, self._thread, self._process = "", None, None, None


def test_a_next_token_from_one_server_process_is_honoured_by_another(
    backend: str, tmp_path: Any
) -> None:
    url = fresh_database_url(backend, tmp_path, "palisade_taxii_procs")
    first = LiveServer(url, tmp_path / "instance")
    key = first.member("lab-a")
    first.start_gunicorn(workers=1)
    second = _SecondProcess(first).start_gunicorn(workers=1)
    try:
        _post(first.url, key, [make_indicator(f"p{i}@example.com") for i in range(20)])
        collection = _collection(first.url, key).id
        servers, ids, params, turn = (first.url, second.url), [], {"limit": 3}, 0
        while True:
            page = _page(servers[turn % 2], key, collection, **params).json()
            ids += [o["id"] for o in page["objects"]]
            turn += 1
            if not page["more"]:
                break
            params["next"] = page["next"]
        # 20 indicators plus the exchange identity and its extension definitions
        expected = 20 + len(extension_definitions_bundle()["objects"])
        assert turn == -(-expected // 3) and len(ids) == len(set(ids)) == expected
    finally:
        second.stop()
        first.stop()


def test_a_full_pull_then_polling_never_skips_or_repeats_while_a_writer_submits(
    live: LiveServer,
) -> None:
    key = live.member("lab-a")
    _post(live.url, key, [make_indicator(f"seed{i}@example.com") for i in range(30)])
    collection = _collection(live.url, key).id
    done = threading.Event()

    def write() -> None:
        for batch in range(15):
            _post(live.url, key, [make_indicator(f"w{batch}-{i}@example.com") for i in range(3)])
            time.sleep(0.01)
        done.set()

    writer = threading.Thread(target=write)
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    writer.start()
    try:
        last_added = None
        while True:
            # read before the request: an empty answer ends the pull only if every write had
            # committed before it was asked for (a write may commit while it is in flight)
            writes_finished = done.is_set()
            response = _page(live.url, key, collection, **params)
            page = response.json() if response.content else {}
            ids += [o["id"] for o in page.get("objects", [])]
            last_added = response.headers.get("X-TAXII-Date-Added-Last", last_added)
            if page.get("more"):
                params = {"limit": 4, "next": page["next"]}
            elif writes_finished and not page.get("objects"):
                break
            else:  # caught up: poll for deltas as a TAXII client does
                params = {"limit": 4, "added_after": last_added}
                time.sleep(0.005)
    finally:
        writer.join()
    assert len(ids) == len(set(ids)), "an object was served twice"
    final = [o["id"] for o in _pull(_collection(live.url, key), per_request=50)]
    statics = len(extension_definitions_bundle()["objects"])
    assert set(ids) == set(final) and len(final) == statics + 30 + 45
