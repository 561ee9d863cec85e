"""A demo consortium for a first look: three member labs, their people and keys, a sharing group,
and a sample campaign (see ``sharing.demo_campaign``).

Seeded by ``palisade serve --demo`` only into an empty database. Credentials are random per
instance, printed once and written to ``demo-credentials.json`` (mode 0600) in the instance
folder so they can be found again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

import click
from sqlalchemy import func, select

from sharing import audit
from sharing.accounts import api_keys, orgs, users
from sharing.demo_campaign import CAMPAIGN
from sharing.models.accounts import Organization
from sharing.runtime import Runtime

LABS = (
    ("aurora-labs", "Aurora Labs"),
    ("borealis-ai", "Borealis AI"),
    ("cirrus-research", "Cirrus Research"),
)
DEMO_GROUP = "frontier-trust-circle"


@dataclass
class DemoConsortium:
    users: list[dict[str, str]] = field(default_factory=list)
    keys: list[dict[str, str]] = field(default_factory=list)
    group: str = DEMO_GROUP
    consortium_key_file: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "api_keys": self.keys,
            "sharing_group": self.group,
            "consortium_key_file": self.consortium_key_file,
        }


def seed_if_empty(rt: Runtime) -> DemoConsortium | None:
    with rt.db.transaction(write=True) as session:
        if session.scalar(select(func.count()).select_from(Organization)):
            return None
        actor = audit.Actor("system:demo")
        demo = DemoConsortium()
        group = orgs.create_group(
            session, DEMO_GROUP, "Labs that share TLP:RED findings", actor=actor
        )
        for index, (name, display) in enumerate(LABS):
            lab = orgs.create_org(session, name, display, actor=actor)
            if index < 2:
                orgs.add_group_member(session, group, lab, actor=actor)
            for suffix, role in (("admin", "org-admin"), ("analyst", "member")):
                password = secrets.token_urlsafe(12)
                username = f"{suffix}@{name}"
                users.create_user(
                    session, rt.cipher, lab, username, password, role=role, actor=actor
                )
                demo.users.append(
                    {"org": name, "username": username, "password": password, "role": role}
                )
            plaintext, _ = api_keys.create_key(
                session, lab, name="demo pipeline", scopes="read,write,match", actor=actor
            )
            demo.keys.append({"org": name, "key": plaintext})
        platform_password = secrets.token_urlsafe(12)
        users.create_user(
            session,
            rt.cipher,
            orgs.get_org(session, LABS[0][0]),
            "operator",
            platform_password,
            role="platform-admin",
            actor=actor,
        )
        demo.users.append(
            {
                "org": LABS[0][0],
                "username": "operator",
                "password": platform_password,
                "role": "platform-admin",
            }
        )
    from sharing.demo_campaign import seed_campaign

    demo.consortium_key_file = str(
        seed_campaign(rt, {entry["org"]: entry["key"] for entry in demo.keys}, DEMO_GROUP)
    )
    _write_credentials(rt, demo)
    return demo


def _write_credentials(rt: Runtime, demo: DemoConsortium) -> None:
    path = rt.settings.instance_path / "demo-credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file left by an earlier instance
    with os.fdopen(fd, "w") as handle:
        json.dump(demo.as_dict(), handle, indent=2)


def print_welcome(demo: DemoConsortium, base_url: str) -> None:
    echo = lambda text="": click.echo(text, err=True)  # noqa: E731
    echo()
    echo("Demo consortium seeded: three member labs.")
    for entry in demo.users:
        echo(f"  {entry['role']:<15} {entry['username']:<28} password {entry['password']}")
    for entry in demo.keys:
        echo(f"  API key for {entry['org']:<16} {entry['key']}")
    echo(f"Try: curl -H 'Authorization: Bearer {demo.keys[0]['key']}' {base_url}/api/v1/whoami")
    echo(f"Sample campaign {CAMPAIGN!r} submitted by the three labs; members hash with the")
    echo(f"demo consortium key {demo.consortium_key_file} (load it in the portal, or")
    echo("  palisade match --key-file <that file> mirror.mill.7.1@mailbox.test).")
    echo("These credentials are also in instance/demo-credentials.json (mode 0600).")
    echo()
