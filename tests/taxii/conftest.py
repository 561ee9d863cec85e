"""Fixtures for TAXII tests: three member labs, a sharing group of two, TAXII request helpers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from sharing import audit, ingest
from sharing.accounts import consortium
from sharing.accounts.api_keys import authenticate
from sharing.accounts.principal import Principal
from sharing.runtime import Runtime
from tests.factories import make_api_key, make_group, make_org
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle

TAXII = "application/taxii+json;version=2.1"
ROOT = "/taxii2/exchange"


@dataclass
class Member:
    name: str
    key: str
    principal: Principal

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Accept": TAXII, **extra}


@dataclass
class Exchange:
    rt: Runtime
    client: FlaskClient
    a: Member
    b: Member
    c: Member
    group: str

    def submit(self, member: Member, *objects: dict[str, Any]) -> dict[str, Any]:
        report = ingest.submit_bundle(self.rt, member.principal, body(make_bundle(*objects)))
        assert not report.failures, [f.message for f in report.failures]
        return report.as_taxii()

    def get(self, member: Member, path: str, **params: Any) -> Any:
        return self.client.get(ROOT + path, headers=member.headers(), query_string=params)

    def json(self, member: Member, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(member, path, **params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return json.loads(response.get_data()) if response.get_data() else {}

    def collection_ids(self, member: Member) -> dict[str, str]:
        found = self.json(member, "/collections/")["collections"]
        return {c["title"]: c["id"] for c in found}

    def pull(self, member: Member, collection: str, **params: Any) -> list[dict[str, Any]]:
        """Every object of a collection, following ``next`` until ``more`` is false."""
        objects: list[dict[str, Any]] = []
        while True:
            page = self.json(member, f"/collections/{collection}/objects/", **params)
            objects += page.get("objects", [])
            if not page.get("more"):
                return objects
            params["next"] = page["next"]


@pytest.fixture
def exchange(rt: Runtime, client: FlaskClient, db: Any) -> Exchange:
    actor = audit.Actor("system:test")
    members = {}
    with db.transaction(write=True) as session:
        consortium.register(session, TEST_CONSORTIUM_KEY.key_id, actor=actor)
        orgs = {name: make_org(session, name) for name in ("lab-a", "lab-b", "lab-c")}
        make_group(session, orgs["lab-a"], orgs["lab-b"], name="frontier")
        keys = {name: make_api_key(session, org)[0] for name, org in orgs.items()}
    with db.transaction() as session:
        for name, key in keys.items():
            members[name] = Member(name, key, authenticate(session, key, "127.0.0.1"))
    return Exchange(rt, client, members["lab-a"], members["lab-b"], members["lab-c"], "frontier")


@pytest.fixture
def basic_auth() -> Callable[[str], str]:
    return lambda key: "Basic " + base64.b64encode(f"taxii:{key}".encode()).decode()
