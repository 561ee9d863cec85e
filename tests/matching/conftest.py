"""An exchange of members for match tests: real orgs, keys and groups, data in via ingest.

Members are made through the real services and turned into principals by authenticating
their API keys, so scopes and group memberships are exactly what the web layer would see.
Everything runs inside the per-test transaction of the ``db`` fixture and is rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from sharing import matching
from sharing.accounts import api_keys, consortium
from sharing.accounts.principal import Principal
from sharing.ingest import submit_bundle
from sharing.models.accounts import Organization
from sharing.runtime import Runtime
from tests.factories import TEST_ACTOR, make_api_key, make_group, make_org
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle


@dataclass
class Member:
    org: Organization
    key: str
    principal: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Exchange:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        with rt.db.transaction(write=True) as session:
            consortium.register(session, TEST_CONSORTIUM_KEY.key_id, actor=TEST_ACTOR)

    def member(self, name: str, scopes: str = "read,write,match") -> Member:
        with self.rt.db.transaction(write=True) as session:
            org = make_org(session, name)
            key, _ = make_api_key(session, org, scopes=scopes)
        return Member(org, key, self._principal(key))

    def _principal(self, key: str) -> Principal:
        with self.rt.db.transaction() as session:
            return api_keys.authenticate(session, key, None)

    def group(self, name: str, *members: Member) -> list[Member]:
        """Put ``members`` in a new sharing group; returns them with refreshed principals."""
        with self.rt.db.transaction(write=True) as session:
            orgs = [session.merge(m.org) for m in members]
            make_group(session, *orgs, name=name)
        refreshed = [Member(m.org, m.key, self._principal(m.key)) for m in members]
        for old, new in zip(members, refreshed, strict=True):
            old.principal = new.principal
        return refreshed

    def submit(self, member: Member, *objects: dict[str, Any]) -> None:
        report = submit_bundle(self.rt, member.principal, body(make_bundle(*objects)))
        assert not report.failures, [o.message for o in report.failures]

    def ask(self, member: Member, *items: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
        request = json.dumps({"items": list(items), **extra}).encode()
        return matching.match(self.rt, member.principal, request)["results"]


@pytest.fixture
def exchange(rt: Runtime) -> Exchange:
    return Exchange(rt)
