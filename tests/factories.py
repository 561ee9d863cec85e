"""Test factories: build members, users and keys through the real services."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from sharing import audit
from sharing.accounts import api_keys, orgs, users
from sharing.crypto.cipher import FieldCipher
from sharing.models.accounts import ApiKey, Organization, SharingGroup, User

_counter = itertools.count(1)
TEST_ACTOR = audit.Actor("system:test")
PASSWORD = "correct horse battery staple"


def make_org(session: Session, name: str | None = None) -> Organization:
    return orgs.create_org(session, name or f"lab-{next(_counter)}", actor=TEST_ACTOR)


def make_user(
    session: Session,
    cipher: FieldCipher,
    org: Organization | None = None,
    *,
    username: str | None = None,
    role: str = "member",
    password: str = PASSWORD,
    email: str | None = None,
) -> User:
    org = org or make_org(session)
    return users.create_user(
        session,
        cipher,
        org,
        username or f"user{next(_counter)}",
        password,
        role=role,
        email=email,
        actor=TEST_ACTOR,
    )


def make_api_key(
    session: Session,
    org: Organization | None = None,
    *,
    scopes: str = "read,write,match",
    **kwargs: Any,
) -> tuple[str, ApiKey]:
    org = org or make_org(session)
    return api_keys.create_key(
        session, org, name=kwargs.pop("name", "test"), scopes=scopes, actor=TEST_ACTOR, **kwargs
    )


def make_group(session: Session, *members: Organization, name: str | None = None) -> SharingGroup:
    group = orgs.create_group(session, name or f"group-{next(_counter)}", actor=TEST_ACTOR)
    for member in members:
        orgs.add_group_member(session, group, member, actor=TEST_ACTOR)
    return group


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
