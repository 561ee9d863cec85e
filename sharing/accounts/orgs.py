"""Member organizations (labs) and sharing groups among them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing import audit
from sharing.errors import Conflict, InvalidInput, NotFound
from sharing.models.accounts import Organization, SharingGroup, SharingGroupMember

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _check_name(name: str, what: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidInput(
            f"{what} name {name!r} must be 2-64 characters of a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def create_org(
    session: Session, name: str, display_name: str | None = None, *, actor: audit.Actor
) -> Organization:
    _check_name(name, "organization")
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise Conflict(f"organization {name!r} already exists")
    org = Organization(name=name, display_name=display_name or name)
    session.add(org)
    session.flush()
    audit.record(session, actor, "org.create", f"org:{name}")
    return org


def get_org(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"no organization named {name!r}")
    return org


def list_orgs(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.name)))


def create_group(
    session: Session, name: str, description: str = "", *, actor: audit.Actor
) -> SharingGroup:
    _check_name(name, "sharing group")
    if session.scalar(select(SharingGroup.id).where(SharingGroup.name == name)) is not None:
        raise Conflict(f"sharing group {name!r} already exists")
    group = SharingGroup(name=name, description=description)
    session.add(group)
    session.flush()
    audit.record(session, actor, "group.create", f"group:{name}")
    return group


def get_group(session: Session, name: str) -> SharingGroup:
    group = session.scalar(select(SharingGroup).where(SharingGroup.name == name))
    if group is None:
        raise NotFound(f"no sharing group named {name!r}")
    return group


def add_group_member(
    session: Session, group: SharingGroup, org: Organization, *, actor: audit.Actor
) -> None:
    if session.get(SharingGroupMember, (group.id, org.id)) is not None:
        return
    session.add(SharingGroupMember(group_id=group.id, org_id=org.id))
    session.flush()
    audit.record(session, actor, "group.add_member", f"group:{group.name}", {"org": org.name})


def remove_group_member(
    session: Session, group: SharingGroup, org: Organization, *, actor: audit.Actor
) -> None:
    member = session.get(SharingGroupMember, (group.id, org.id))
    if member is None:
        raise NotFound(f"{org.name!r} is not in sharing group {group.name!r}")
    session.delete(member)
    session.flush()
    audit.record(session, actor, "group.remove_member", f"group:{group.name}", {"org": org.name})


def group_ids_of(session: Session, org_id: int) -> frozenset[int]:
    return frozenset(
        session.scalars(
            select(SharingGroupMember.group_id).where(SharingGroupMember.org_id == org_id)
        )
    )
