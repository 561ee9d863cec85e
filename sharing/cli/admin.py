"""Operator commands for members: organizations, users, API keys, sharing groups."""

from __future__ import annotations

import secrets
import sys
from datetime import timedelta

import click

from sharing import audit
from sharing.accounts import api_keys, orgs, users
from sharing.cli.base import CliState, cli, emit_json, handle_errors, pass_state, say
from sharing.models.base import utcnow


@cli.group()
def org() -> None:
    """Member organizations."""


@org.command("create")
@click.argument("name")
@click.option("--display-name", help="Human name, e.g. 'Aurora Labs'.")
@pass_state
@handle_errors
def org_create(state: CliState, name: str, display_name: str | None) -> None:
    """Create a member organization NAME."""
    with state.runtime().db.transaction(write=True) as session:
        created = orgs.create_org(session, name, display_name, actor=audit.CLI)
    say(f"created organization {created.name!r} (id {created.id})")


@org.command("list")
@pass_state
@handle_errors
def org_list(state: CliState) -> None:
    """List member organizations as JSON."""
    with state.runtime().db.transaction() as session:
        emit_json(
            [
                {"name": o.name, "display_name": o.display_name, "active": o.is_active}
                for o in orgs.list_orgs(session)
            ]
        )


@cli.group()
def user() -> None:
    """Portal users."""


@user.command("create")
@click.option("--org", "org_name", required=True, help="Organization the user belongs to.")
@click.option("--username", required=True)
@click.option(
    "--role",
    default="member",
    show_default=True,
    type=click.Choice(["member", "org-admin", "platform-admin"]),
)
@click.option("--email", default=None)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of generating one.",
)
@pass_state
@handle_errors
def user_create(
    state: CliState,
    org_name: str,
    username: str,
    role: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Create a user. Without --password-stdin a strong password is generated and printed."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(18)
    rt = state.runtime()
    with rt.db.transaction(write=True) as session:
        member_org = orgs.get_org(session, org_name)
        created = users.create_user(
            session,
            rt.cipher,
            member_org,
            username,
            password,
            role=role,
            email=email,
            actor=audit.CLI,
        )
    say(f"created user {created.username!r} in {member_org.name!r} with role {role}")
    if generated:
        click.echo(password)


@cli.group()
def key() -> None:
    """API keys for member pipelines."""


@key.command("create")
@click.option("--org", "org_name", required=True)
@click.option("--scopes", required=True, help="Comma-separated: read,write,match")
@click.option("--name", default="cli", show_default=True)
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
@click.option("--allow-ip", "allow_ips", multiple=True, help="Address or CIDR; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its metadata as JSON.")
@pass_state
@handle_errors
def key_create(
    state: CliState,
    org_name: str,
    scopes: str,
    name: str,
    expires_in_days: int | None,
    allow_ips: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with state.runtime().db.transaction(write=True) as session:
        member_org = orgs.get_org(session, org_name)
        plaintext, row = api_keys.create_key(
            session,
            member_org,
            name=name,
            scopes=scopes,
            expires_at=expires,
            allowed_ips=allow_ips or None,
            actor=audit.CLI,
        )
        info = {
            "key": plaintext,
            "prefix": row.prefix,
            "org": member_org.name,
            "scopes": row.scopes.split(","),
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        }
    if as_json:
        emit_json(info)
    else:
        say(f"API key for {org_name!r} with scopes {info['scopes']} (shown once):")
        click.echo(plaintext)


@key.command("revoke")
@click.argument("prefix")
@pass_state
@handle_errors
def key_revoke(state: CliState, prefix: str) -> None:
    """Revoke the API key with public PREFIX."""
    with state.runtime().db.transaction(write=True) as session:
        api_keys.revoke_key(session, None, prefix, actor=audit.CLI)
    say(f"revoked API key {prefix}")


@key.command("list")
@click.option("--org", "org_name", required=True)
@pass_state
@handle_errors
def key_list(state: CliState, org_name: str) -> None:
    """List an organization's API keys (metadata only) as JSON."""
    with state.runtime().db.transaction() as session:
        member_org = orgs.get_org(session, org_name)
        emit_json(
            [
                {
                    "prefix": k.prefix,
                    "name": k.name,
                    "scopes": k.scopes.split(","),
                    "created_at": k.created_at,
                    "expires_at": k.expires_at,
                    "revoked_at": k.revoked_at,
                    "last_used_at": k.last_used_at,
                }
                for k in api_keys.list_keys(session, member_org.id)
            ]
        )


@cli.group()
def group() -> None:
    """Sharing groups (who may see TLP:RED and group-restricted reports)."""


@group.command("create")
@click.argument("name")
@click.option("--description", default="")
@pass_state
@handle_errors
def group_create(state: CliState, name: str, description: str) -> None:
    """Create sharing group NAME."""
    with state.runtime().db.transaction(write=True) as session:
        orgs.create_group(session, name, description, actor=audit.CLI)
    say(f"created sharing group {name!r}")


@group.command("add")
@click.argument("name")
@click.option("--org", "org_names", multiple=True, required=True)
@pass_state
@handle_errors
def group_add(state: CliState, name: str, org_names: tuple[str, ...]) -> None:
    """Add organizations to sharing group NAME."""
    with state.runtime().db.transaction(write=True) as session:
        target = orgs.get_group(session, name)
        for org_name in org_names:
            orgs.add_group_member(session, target, orgs.get_org(session, org_name), actor=audit.CLI)
    say(f"added {', '.join(org_names)} to {name!r}")
