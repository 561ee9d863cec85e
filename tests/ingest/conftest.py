"""Ingest fixtures: an exchange with registered consortium key and helpers to add members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharing.accounts import api_keys, consortium, orgs
from sharing.accounts.principal import Principal
from sharing.corroboration import Summary, summarise
from sharing.ingest import submit_bundle
from sharing.ingest.outcomes import StatusReport
from sharing.models.base import utcnow
from sharing.runtime import Runtime
from sharing.visibility import Viewer
from tests.factories import TEST_ACTOR, make_api_key, make_org
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle


@dataclass
class Member:
    principal: Principal
    key: str


class Exchange:
    def __init__(self, rt: Runtime, session: Session) -> None:
        self.rt = rt
        self.session = session

    def member(self, name: str, *, scopes: str = "read,write,match") -> Member:
        org = make_org(self.session, name)
        key, _ = make_api_key(self.session, org, scopes=scopes)
        return Member(api_keys.authenticate(self.session, key, None), key)

    def refresh(self, member: Member) -> Member:
        """Re-authenticate (after group membership changes)."""
        return Member(api_keys.authenticate(self.session, member.key, None), member.key)

    def group(self, name: str, *members: Member) -> None:
        group = orgs.create_group(self.session, name, actor=TEST_ACTOR)
        for member in members:
            org = orgs.get_org(self.session, member.principal.org_name)
            orgs.add_group_member(self.session, group, org, actor=TEST_ACTOR)

    def submit(self, member: Member, *objects: dict[str, Any]) -> StatusReport:
        return submit_bundle(self.rt, member.principal, body(make_bundle(*objects)))

    def view(self, member: Member) -> dict[int, Summary]:
        """Every indicator ``member`` can see, summarised."""
        from sharing.models.indicators import Indicator

        ids = list(self.session.scalars(select(Indicator.id)))
        viewer = Viewer.of(member.principal, self.rt.cipher)
        return summarise(self.session, self.rt.cipher, viewer, ids, utcnow())

    def count(self, model: Any) -> int:
        return self.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def exchange(rt: Runtime, session: Session) -> Exchange:
    consortium.register(session, TEST_CONSORTIUM_KEY.key_id, actor=TEST_ACTOR)
    return Exchange(rt, session)
