"""Hardening fixtures: an in-process exchange whose app settings a test chooses, plus members.

Long variants are marked ``@pytest.mark.slow`` and skipped unless asked for (``-m slow`` or
``PALISADE_SLOW=1``), so the CI part of tests/hardening stays within a few minutes; see
docs/OPERATIONS.md ("Proving it") for the long runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from sharing import create_app
from sharing.accounts import consortium
from sharing.config import Settings
from sharing.crypto.keyring import KeySource
from sharing.db import Database
from tests.factories import TEST_ACTOR, make_api_key, make_org
from tests.stix_factories import TEST_CONSORTIUM_KEY

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("-m") or ""
    if "slow" in markexpr or os.environ.get("PALISADE_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="long variant: run with -m slow or PALISADE_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@dataclass
class Member:
    name: str
    org_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Exchange:
    """Members and keys in the per-test (rolled back) database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction(write=True) as session:
            consortium.register(session, TEST_CONSORTIUM_KEY.key_id, actor=TEST_ACTOR)

    def member(self, name: str, scopes: str = "read,write,match", **kwargs: Any) -> Member:
        with self.db.transaction(write=True) as session:
            org = make_org(session, name)
            key, _ = make_api_key(session, org, scopes=scopes, **kwargs)
            return Member(name, org.id, key)

    def key_for(self, member: Member, scopes: str = "read,write,match", **kwargs: Any) -> str:
        from sharing.accounts import orgs

        with self.db.transaction(write=True) as session:
            org = orgs.get_org(session, member.name)
            key, _ = make_api_key(session, org, scopes=scopes, **kwargs)
            return key


@pytest.fixture
def exchange(db: Database) -> Exchange:
    return Exchange(db)


@pytest.fixture
def make_app(db: Database, key_source: KeySource, tmp_path: Path) -> Callable[..., Flask]:
    """Build an app over the test database with Settings overrides (``ratelimit_match=...``)."""

    def build(**overrides: Any) -> Flask:
        settings = Settings.from_env(
            environ={}, overrides={"instance_path": tmp_path / "instance", **overrides}
        )
        return create_app(
            {"settings": settings, "database": db, "key_source": key_source, "TESTING": True}
        )

    return build
